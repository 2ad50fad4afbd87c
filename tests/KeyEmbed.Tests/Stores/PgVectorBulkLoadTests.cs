using KeyEmbed.Stores;
using KeyEmbed.Stores.Postgres;

namespace KeyEmbed.Tests.Stores;

/// <summary>
/// A bulk-loading writer (as <c>keyembed index</c> opens the store) leaves the HNSW index out of a table it creates and
/// builds it once at the end, instead of maintaining it row by row; a writer that is not bulk-loading (the service)
/// gets the index with the table.
/// </summary>
[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector")]
public sealed class PgVectorBulkLoadTests(PostgresServer postgres)
{
    private static readonly StoreProfile Profile = new("test", "0123456789abcdef", [1], "sum", "mean", false, true, 16, "float32");

    private static float[] Unit(Random random)
    {
        var v = new float[16];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        float norm = MathF.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => x / norm)];
    }

    [Fact]
    public void The_search_breadth_sets_ef_search_at_least_top_and_at_most_pgvectors_bound()
    {
        string location = postgres.NewStore("breadth");
        using (var writer = PgVectorStore.Open(location, StoreAccess.Write)) writer.Claim(Profile, "test");
        using var defaulted = (PgVectorStore)VectorStores.Open(location, StoreAccess.Read);
        Assert.Null(defaulted.SearchBreadth);
        Assert.Equal([100, 100, 600, 1000], new[] { 1, 50, 300, 2000 }.Select(defaulted.EfSearchFor));
        using var wide = (PgVectorStore)VectorStores.Open(location, StoreAccess.Read, searchBreadth: 400);
        Assert.Equal(400, wide.SearchBreadth);
        Assert.Equal([400, 400, 700, 1000], new[] { 1, 10, 700, 2000 }.Select(wide.EfSearchFor));
        var error = Assert.Throws<KeyEmbedException>(() => VectorStores.Open(location, StoreAccess.Read, searchBreadth: 1001));
        Assert.Contains("between 1 and 1000", error.Message);
    }

    [Theory]
    [InlineData("", "m='16', ef_construction='64'")]
    [InlineData("&hnsw_m=24&hnsw_ef_construction=90", "m='24', ef_construction='90'")]
    [InlineData("&hnsw_m=48", "m='48', ef_construction='96'")]
    public void The_url_sets_the_hnsw_graph_a_built_index_gets(string parameters, string expected)
    {
        string location = postgres.NewStore("graph") + parameters;
        var random = new Random(5);
        using var store = PgVectorStore.Open(location, StoreAccess.Write, bulkLoad: true);
        store.Claim(Profile, "test");
        store.Add([.. Enumerable.Range(0, 50).Select(i => new StoreItem("id" + i, "text " + i))], [.. Enumerable.Range(0, 50).Select(_ => Unit(random))]);
        store.BuildIndex();
        Assert.Contains(expected, store.IndexDefinition());
    }

    [Fact]
    public void A_bulk_loaded_table_gets_its_index_once_at_the_end_and_searches_correctly_before_and_after()
    {
        string location = postgres.NewStore("bulk");
        var random = new Random(21);
        var vectors = Enumerable.Range(0, 500).Select(_ => Unit(random)).ToArray();
        var items = Enumerable.Range(0, vectors.Length).Select(i => new StoreItem("id" + i, "text " + i)).ToArray();
        using var store = PgVectorStore.Open(location, StoreAccess.Write, bulkLoad: true);
        store.Claim(Profile, "test");
        Assert.Equal(250, store.Add(items[..250], vectors[..250]));
        Assert.Equal(250, store.Add(items[250..], vectors[250..]));
        Assert.False(store.HasIndex());

        // Without the index a search scans the table: the exact nearest rows.
        var exact = vectors.Select((v, i) => (Id: "id" + i, Score: System.Numerics.Tensors.TensorPrimitives.Dot(v, vectors[7])))
            .OrderByDescending(p => p.Score).Take(5).Select(p => p.Id).ToList();
        Assert.Equal(exact, store.Search(vectors[7], 5).Select(h => h.Id).ToList());

        store.BuildIndex();
        Assert.True(store.HasIndex());
        Assert.Contains("_embedding_hnsw", store.ExplainSearch(vectors[7], 5));
        Assert.Equal("id7", store.Search(vectors[7], 1)[0].Id);
        store.BuildIndex(); // a second build (another shard finishing) finds the index and does nothing
        Assert.True(store.HasIndex());
    }

    [Fact]
    public void A_writer_that_is_not_bulk_loading_creates_the_table_with_its_index()
    {
        string location = postgres.NewStore("online");
        using var store = PgVectorStore.Open(location, StoreAccess.Write);
        store.Claim(Profile, "test");
        Assert.True(store.HasIndex());
    }
}
