using System.Text.Json;
using KeyEmbed.Stores;

namespace KeyEmbed.Tests.Stores;

/// <summary><c>index</c> and <c>search</c> on folder stores with the tiny random BERT: contracts, resuming, bad input.</summary>
public sealed class StoreCliTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    private static void AssertOneErrorLine(int code, string error, params string[] mentions)
    {
        Assert.Equal(2, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        foreach (var mention in mentions) Assert.Contains(mention, error);
    }

    [Fact]
    public void Index_then_search_prints_the_json_contract_one_list_per_query_best_first()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("corpus.txt"), ["apple pie", "banana bread", "", "cherry tart", "apple pie", "durian"]);
        File.WriteAllLines(dir.File("queries.txt"), ["apple pie", "durian"]);
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"));
        Assert.True(code == 0, error);
        Assert.Contains("indexed 4 new texts (1 already stored)", error);

        var (searched, output, searchError) = CliProcess.Run("search", "--store", dir.File("s"), "--input", dir.File("queries.txt"), "--top", "3", "--format", "json");
        Assert.True(searched == 0, searchError);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(["queries", "results"], json.RootElement.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["apple pie", "durian"], json.RootElement.GetProperty("queries").EnumerateArray().Select(q => q.GetString()!));
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(2, results.Count);
        for (int q = 0; q < 2; q++)
        {
            var hits = results[q].EnumerateArray().ToList();
            Assert.Equal(3, hits.Count);
            Assert.All(hits, h => Assert.Equal(["id", "text", "score"], h.EnumerateObject().Select(p => p.Name)));
            var scores = hits.Select(h => h.GetProperty("score").GetSingle()).ToList();
            Assert.Equal(scores.OrderByDescending(s => s), scores);
        }
        // Each query is stored, so it is its own nearest text (the store's model and options were used for the queries).
        Assert.Equal("apple pie", results[0][0].GetProperty("text").GetString());
        Assert.Equal(VectorStores.ContentId("apple pie"), results[0][0].GetProperty("id").GetString());
        Assert.Equal("durian", results[1][0].GetProperty("text").GetString());
        Assert.True(results[1][0].GetProperty("score").GetSingle() > 0.9999f);
    }

    [Fact]
    public void Search_breadth_reaches_the_store_and_a_bad_one_is_named_by_its_flag()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("corpus.txt"), ["apple pie", "banana bread", "cherry tart"]);
        Assert.Equal(0, CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s")).Code);
        var (code, output, error) = CliProcess.Run("search", "--store", dir.File("s"), "--query", "apple pie", "--top", "2", "--search-breadth", "2", "--format", "json");
        Assert.True(code == 0, error);
        Assert.Contains("\"apple pie\"", output);

        (code, _, error) = CliProcess.Run("search", "--store", dir.File("s"), "--query", "apple pie", "--search-breadth", "0");
        AssertOneErrorLine(code, error, "--search-breadth", "between 1 and 100000", "got 0");
        // PostgreSQL's bound is pgvector's: checked before connecting, so no server is needed here.
        (code, _, error) = CliProcess.Run("search", "--store", "postgres://someone@127.0.0.1:1/db", "--query", "x", "--search-breadth", "5000");
        AssertOneErrorLine(code, error, "--search-breadth", "between 1 and 1000", "hnsw.ef_search", "got 5000");

        using var folder = VectorStores.Open(dir.File("s"), StoreAccess.Read, searchBreadth: 77);
        Assert.Equal(77, ((KeyEmbed.Stores.Folder.FolderStore)folder).SearchBreadth);
        using var defaulted = VectorStores.Open(dir.File("s"), StoreAccess.Read);
        Assert.Equal(KeyEmbed.Stores.Folder.FolderStoreOptions.DefaultSearchBreadth, ((KeyEmbed.Stores.Folder.FolderStore)defaulted).SearchBreadth);
    }

    [Fact]
    public void Json_lines_keep_ids_and_metadata_and_a_rerun_adds_only_new_ids()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("a.jsonl"), ["""{"id": "k1", "text": "solar power", "lang": "en"}""", """{"id": 7, "text": "wind power"}"""]);
        Assert.Equal(0, CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("a.jsonl"), "--store", dir.File("s")).Code);
        File.AppendAllLines(dir.File("a.jsonl"), ["""{"id": "k3", "text": "tidal power"}"""]);
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("a.jsonl"), "--store", dir.File("s"));
        Assert.True(code == 0, error);
        Assert.Contains("indexed 1 new texts (2 already stored)", error);

        using var store = VectorStores.Open(dir.File("s"), StoreAccess.Read);
        Assert.Equal(3, store.Count());
        // The tiny random model may give several texts the same vector: look for k1 among the best three.
        var hit = store.Search(store.Vector("k1")!, 3).Single(h => h.Id == "k1");
        Assert.Equal("solar power", hit.Text);
        Assert.Equal(1f, hit.Score, 5);
        Assert.Equal("en", JsonDocument.Parse(hit.Metadata!).RootElement.GetProperty("lang").GetString());
        Assert.NotNull(store.Vector("7"));
    }

    [Fact]
    public void A_malformed_json_lines_row_is_named_by_file_and_line()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("bad.jsonl"), ["""{"text": "fine"}""", "{\"text\": \"broken", """{"text": "never read"}"""]);
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("bad.jsonl"), "--store", dir.File("s"));
        AssertOneErrorLine(code, error, "bad.jsonl line 2", "not valid JSON");

        File.WriteAllLines(dir.File("notext.jsonl"), ["""{"id": "a", "body": "no text field"}"""]);
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("notext.jsonl"), "--store", dir.File("s"));
        AssertOneErrorLine(code, error, "notext.jsonl line 1", "\"text\"");
    }

    [Theory]
    [InlineData("""{"text": "a\uD800b"}""", "the string at byte 9")]
    [InlineData("""{"te\uDC00xt": "x", "text": "y"}""", "the name at byte 1")]
    [InlineData("""{"id": "\uD800", "text": "y"}""", "unpaired surrogate escape")]
    public void A_json_lines_row_with_an_unpaired_surrogate_escape_is_named_by_file_and_line(string row, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("bad.jsonl"), ["{\"text\": \"fine\"}", row]);
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("bad.jsonl"), "--store", dir.File("s"));
        AssertOneErrorLine(code, error, "bad.jsonl line 2", "not valid JSON", expected);
    }

    [Fact]
    public void A_store_made_by_another_model_or_options_is_refused_naming_both()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("c.txt"), ["one", "two"]);
        Assert.Equal(0, CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("c.txt"), "--store", dir.File("s")).Code);

        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--pooling", "max", "--input", dir.File("c.txt"), "--store", dir.File("s"));
        AssertOneErrorLine(code, error, "pooling mean", "pooling max", dir.File("s"));
        (code, _, error) = CliProcess.Run("search", "--model", "minilm", "--store", dir.File("s"), "--query", "one");
        AssertOneErrorLine(code, error, "model minilm", "model " + TinyModel);
        (code, _, error) = CliProcess.Run("search", "--dimensions", "8", "--store", dir.File("s"), "--query", "one");
        AssertOneErrorLine(code, error, "8 dimensions");
    }

    [Fact]
    public void A_folder_that_is_not_a_store_is_refused()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("photos"));
        File.WriteAllText(dir.File("photos/cat.jpg"), "not a store");
        var (code, _, error) = CliProcess.Run("search", "--store", dir.File("photos"), "--query", "cat");
        AssertOneErrorLine(code, error, "is not a KeyEmbed store");
        File.WriteAllLines(dir.File("c.txt"), ["one"]);
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("c.txt"), "--store", dir.File("photos"));
        AssertOneErrorLine(code, error, "is not a KeyEmbed store", "not empty");
        Assert.False(File.Exists(dir.File("photos/store.db")));

        Directory.CreateDirectory(dir.File("fake"));
        File.WriteAllText(dir.File("fake/store.db"), "this is not SQLite at all, just text long enough to have a header......");
        (code, _, error) = CliProcess.Run("search", "--store", dir.File("fake"), "--query", "cat");
        AssertOneErrorLine(code, error, "is not a KeyEmbed store");
        (code, _, error) = CliProcess.Run("search", "--store", dir.File("missing"), "--query", "cat");
        AssertOneErrorLine(code, error, "not found");
    }

    [Fact]
    public void An_unreachable_database_is_one_line_naming_host_and_port_exit_2()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("c.txt"), ["one"]);
        // Port 1 on loopback: nothing listens there.
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("c.txt"), "--store", "postgres://someone:secret@127.0.0.1:1/db?table=t");
        AssertOneErrorLine(code, error, "127.0.0.1:1", "PostgreSQL");
        Assert.DoesNotContain("secret", error);
        (code, _, error) = CliProcess.Run("search", "--store", "postgres://someone@127.0.0.1:1/db", "--query", "x");
        AssertOneErrorLine(code, error, "127.0.0.1:1");
    }

    [Fact]
    public void Shard_values_outside_i_of_n_are_refused()
    {
        foreach (var bad in new[] { "3/3", "1", "-1/2", "a/b", "0/0" })
        {
            var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", "-", "--store", "unused", "--shard", bad);
            AssertOneErrorLine(code, error, "--shard");
        }
    }

    [Fact]
    public void Index_tunes_a_new_or_doubled_store_once_and_tune_retunes_for_another_target()
    {
        using var dir = new TempDir();
        var (corpus, code, error) = IndexTinyCorpusAsFloat32(dir);
        Assert.True(code == 0, error);
        Assert.Contains("tuning the search", error);
        Assert.Contains("  breadth 40: recall@10 ", error);
        Assert.Matches(@"search tuned: breadth \d+ finds [01]\.\d{3} of the exact top 10 \(target 0\.95\) over 1,100 rows", error);

        // Nothing new, and the tuning still holds: no second tuning.
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"));
        Assert.True(code == 0, error);
        Assert.DoesNotContain("tuning", error);

        var (tuned, output, tuneError) = CliProcess.Run("tune", "--store", dir.File("s"), "--target-recall", "0.9");
        Assert.True(tuned == 0, tuneError);
        Assert.Contains("(target 0.9) over 1,100 rows", output);
        Assert.Contains("tuning the search", tuneError);

        // Another target on index re-tunes at once.
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"), "--target-recall", "0.8");
        Assert.True(code == 0, error);
        Assert.Contains("(target 0.8) over 1,100 rows", error);
        string stored = corpus.ElementAt(500);
        var (searched, json, searchError) = CliProcess.Run("search", "--store", dir.File("s"), "--query", stored, "--top", "1", "--format", "json");
        Assert.True(searched == 0, searchError);
        Assert.Contains($"\"{stored}\"", json.Split("results")[1]);
    }

    [Fact]
    public void Search_says_when_a_store_whose_tuning_missed_its_target_is_scanned_row_by_row()
    {
        using var dir = new TempDir();
        var (corpus, code, error) = IndexTinyCorpusAsFloat32(dir);
        Assert.True(code == 0, error);
        // What a tuning that found no breadth reaching its target records, in place of the one index made.
        Assert.Contains("search tuned", error);
        Assert.Equal(1, StoreTestData.SetFolderMeta(dir.File("s"), "search_tuning", new SearchTuning(1100, 0.8, 0.95, 100, 1100, Reached: false).ToJson()));
        string stored = corpus.ElementAt(500);
        var (searched, json, searchError) = CliProcess.Run("search", "--store", dir.File("s"), "--query", stored, "--top", "1", "--format", "json");
        Assert.True(searched == 0, searchError);
        Assert.Contains($"\"{stored}\"", json.Split("results")[1]);
        Assert.Contains("note: scanning every row of ", searchError);
        Assert.Contains("--search-breadth 1100 walks the graph instead", searchError);
        (searched, json, searchError) = CliProcess.Run("search", "--store", dir.File("s"), "--query", stored, "--top", "1", "--search-breadth", "1100");
        Assert.True(searched == 0, searchError);
        Assert.DoesNotContain("scanning", searchError);
    }

    [Fact]
    public void An_int8_index_reaches_a_high_target_by_walking_wider_even_on_near_equal_vectors()
    {
        // The tiny random model's vectors are nearly equal, so an int8 index's approximate order is poor. Widening the
        // walk must still reach the target, as tuning assumes: the rows rescored exactly grow with the walk (a quarter
        // of it). With 10 × top rows only, recall stopped near 0.97 from a walk of 160 up and no breadth reached 0.98.
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("corpus.txt"), TinyVocabularyCorpus(1100));
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"), "--target-recall", "0.98");
        Assert.True(code == 0, error);
        Assert.True(error.Contains("search tuned: breadth ") && !error.Contains("warning"), error);
    }

    [Fact]
    public void Tune_measures_with_the_queries_given_embedded_by_the_stores_model()
    {
        using var dir = new TempDir();
        var (corpus, code, error) = IndexTinyCorpusAsFloat32(dir);
        Assert.True(code == 0, error);
        // Texts the store does not hold (five words where the stored ones have four), with a blank line skipped.
        var queries = TinyVocabularyCorpus(30, wordCount: 5);
        File.WriteAllLines(dir.File("queries.txt"), [.. queries.Take(15), "", .. queries.Skip(15)]);
        var (tuned, output, tuneError) = CliProcess.Run("tune", "--store", dir.File("s"), "--queries", dir.File("queries.txt"));
        Assert.True(tuned == 0, tuneError);
        Assert.Contains("(the 30 queries given)", tuneError);
        // Reached or not depends on how far 30 queries of the tiny model's near-equal vectors spread (their margin is
        // two standard errors); either way the result is stated and recorded.
        Assert.Matches(@"(search tuned: breadth \d+ finds [01]\.\d{3} of the exact top 10 \(target 0\.95\) over 1,100 rows|warning: no search breadth reaches recall 0\.95)", output);
        using (var store = KeyEmbed.Stores.Folder.FolderStore.Open(dir.File("s"), StoreAccess.Read))
            Assert.True(store.Tuning is { QueriesGiven: true, Queries: 30 }, $"{store.Tuning}");
        // index keeps that tuning while it holds, and says so when it replaces it with midpoints.
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"));
        Assert.True(code == 0, error);
        Assert.DoesNotContain("tuning", error);
        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"), "--target-recall", "0.8");
        Assert.True(code == 0, error);
        Assert.Contains("was tuned with your own queries; this tuning uses midpoints", error);
        Assert.Contains("(100 queries, each between two stored texts)", error);

        File.WriteAllLines(dir.File("few.txt"), queries.Take(5));
        var (few, _, fewError) = CliProcess.Run("tune", "--store", dir.File("s"), "--queries", dir.File("few.txt"));
        AssertOneErrorLine(few, fewError, "--queries", "at least 20");
        var (missing, _, missingError) = CliProcess.Run("tune", "--store", dir.File("s"), "--queries", dir.File("no-such-file.txt"));
        AssertOneErrorLine(missing, missingError, "no-such-file.txt");
    }

    // 1,100 tiny-vocabulary texts written to corpus.txt and indexed into the folder store "s". A float32 index: the tiny
    // random model's vectors are so alike that an int8 index's rescoring window caps recall near 0.97 on them, whatever
    // the breadth (the tuning then says no breadth reaches the target).
    private static (List<string> Corpus, int Code, string Error) IndexTinyCorpusAsFloat32(TempDir dir)
    {
        var corpus = TinyVocabularyCorpus(1100);
        File.WriteAllLines(dir.File("corpus.txt"), corpus);
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", dir.File("s"), "--index-precision", "float32");
        return (corpus, code, error);
    }

    // Distinct texts in the tiny model's 50-word vocabulary (anything else is [UNK] to it).
    private static List<string> TinyVocabularyCorpus(int count, int wordCount = 4)
    {
        string[] vocabulary = ["the", "a", "of", "key", "word", "vector", "model", "text", "layer", "mean", "deep", "learn", "net", "good", "fast", "small", "big", "tiny", "test"];
        var random = new Random(3);
        var corpus = new HashSet<string>();
        while (corpus.Count < count) corpus.Add(string.Join(' ', Enumerable.Range(0, wordCount).Select(_ => vocabulary[random.Next(vocabulary.Length)])));
        return [.. corpus];
    }

    [Fact]
    public void A_bad_target_recall_is_one_line_naming_its_flag_before_any_work()
    {
        using var dir = new TempDir();
        foreach (var bad in new[] { "0", "1.5", "-1" })
        {
            var (code, _, error) = CliProcess.Run("tune", "--store", dir.File("s"), "--target-recall", bad);
            AssertOneErrorLine(code, error, "--target-recall", "above 0 and at most 1");
            (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", "-", "--store", dir.File("s"), "--target-recall", bad);
            AssertOneErrorLine(code, error, "--target-recall");
        }
        var (missing, _, missingError) = CliProcess.Run("tune", "--store", dir.File("nothing-here"));
        AssertOneErrorLine(missing, missingError, "not found; index a corpus into it first");
        Assert.False(Directory.Exists(dir.File("nothing-here")));
    }
}
