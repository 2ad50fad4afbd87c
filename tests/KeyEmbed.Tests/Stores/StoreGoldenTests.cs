using System.Numerics.Tensors;
using System.Text;
using KeyEmbed.Embedding;
using KeyEmbed.Stores;

namespace KeyEmbed.Tests.Stores;

/// <summary>
/// The 2,551 sentences of golden/minilm-sts-test indexed by <c>keyembed index</c> into each store: every stored vector
/// at cosine ≥ 0.9999 to its golden vector, and the HNSW top-10 equal to the exact top-10 (recall ≥ 0.99).
/// </summary>
internal static class StoreGolden
{
    public static string Texts => SharedData.Golden("minilm-sts-test", "texts.txt");

    public static void IndexAndCheck(string location)
    {
        var (code, _, error) = CliProcess.Run("index", "--input", Texts, "--store", location);
        Assert.True(code == 0, error);
        Assert.Contains("indexed 2551 new texts", error);

        var texts = File.ReadAllLines(Texts, Encoding.UTF8);
        var golden = NpyFile.Read(SharedData.Golden("minilm-sts-test", "vectors.npy"));
        int width = (int)golden.Shape[1];
        using var store = VectorStores.Open(location, StoreAccess.Read);
        Assert.Equal(texts.Length, store.Count());
        // `index` tuned the store; had the tuning missed its target, searches would scan every row and the comparison
        // with exact below would say nothing of the graph.
        Assert.True(store.Tuning is { Reached: true } && !store.SearchesExactly, $"tuning: {store.Tuning}");
        double worst = 1;
        var queries = new List<float[]>();
        for (int i = 0; i < texts.Length; i++)
        {
            var expected = golden.Data.AsSpan(i * width, width).ToArray();
            var stored = store.Vector(VectorStores.ContentId(texts[i]));
            Assert.NotNull(stored);
            worst = Math.Min(worst, TensorPrimitives.CosineSimilarity(stored, expected));
            if (i % 5 == 0) queries.Add(expected);
        }
        Assert.True(worst >= 0.9999, $"lowest cosine to the golden vectors: {worst}");

        // The golden vectors of every 5th sentence as queries: the index's top-10 against brute force over the store.
        int found = 0, wanted = 0;
        foreach (var query in queries)
        {
            var approximate = store.Search(query, 10).Select(h => h.Id).ToHashSet();
            var exact = store.Search(query, 10, exact: true);
            Assert.Equal(10, exact.Count);
            Assert.True(exact.Zip(exact.Skip(1)).All(p => p.First.Score >= p.Second.Score), "exact results best first");
            found += exact.Count(h => approximate.Contains(h.Id));
            wanted += exact.Count;
        }
        double recall = (double)found / wanted;
        Assert.True(recall >= 0.99, $"HNSW recall@10 against exact: {recall:F4}");
    }
}

[Trait("Resource", "built-in model (90 MB graph)")]
public sealed class FolderStoreGoldenTests
{
    [Fact]
    public void Golden_sentences_indexed_into_a_folder_store_keep_their_vectors_and_hnsw_matches_exact_search()
    {
        using var dir = new TempDir();
        StoreGolden.IndexAndCheck(dir.File("store"));
    }
}

[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector")]
[Trait("Resource", "built-in model (90 MB graph)")]
public sealed class PgVectorStoreGoldenTests(PostgresServer postgres)
{
    [Fact]
    public void Golden_sentences_indexed_into_postgresql_keep_their_vectors_and_the_hnsw_index_matches_exact_search()
    {
        string location = postgres.NewStore("golden");
        StoreGolden.IndexAndCheck(location);
        using var store = (KeyEmbed.Stores.Postgres.PgVectorStore)VectorStores.Open(location, StoreAccess.Read);
        var plan = store.ExplainSearch(store.Vector(VectorStores.ContentId(File.ReadLines(StoreGolden.Texts).First()))!, 10);
        Assert.Contains("_embedding_hnsw", plan);
    }
}
