using System.Numerics.Tensors;
using static KeyEmbed.Tests.Stores.StoreTestData;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Folder;

namespace KeyEmbed.Tests.Stores;

/// <summary>A folder store's search tuning: measured, recorded, used by later searches while it holds.</summary>
public sealed class FolderStoreTuningTests
{
    [Theory]
    [InlineData("float32")]
    [InlineData("int8")]
    public void The_tuned_breadth_is_recorded_used_by_later_searches_and_finds_the_target_on_new_queries(string precision)
    {
        using var dir = new TempDir();
        var random = new Random(11);
        var (items, vectors) = Batch(random, 0, 4000);
        SearchTuning tuning;
        using (var store = FolderStore.Open(dir.File("s"), StoreAccess.Write, new FolderStoreOptions { IndexPrecision = precision }))
        {
            store.Claim(Profile, "test");
            store.Add(items, vectors);
            Assert.Null(store.Tuning);
            Assert.Equal(FolderStoreOptions.DefaultSearchBreadth, store.SearchBreadth);
            tuning = store.TuneSearch(0.97);
        }
        Assert.True(tuning.Reached);
        Assert.True(tuning.Recall >= 0.97, $"recall {tuning.Recall}");
        Assert.Equal(4000, tuning.Rows);
        Assert.Equal(SearchTuner.SampleSize, tuning.Queries);
        Assert.InRange(tuning.Breadth, 40, 4000);

        using var reader = FolderStore.Open(dir.File("s"), StoreAccess.Read);
        Assert.Equal(tuning, reader.Tuning);
        Assert.Equal(tuning.Breadth, reader.SearchBreadth);
        // Queries that are not stored rows, against brute force: the tuned breadth holds up within sampling error.
        int found = 0;
        for (int q = 0; q < 100; q++)
        {
            var query = Unit(random);
            var truth = reader.Search(query, 10, exact: true).Select(h => h.Id).ToHashSet();
            found += reader.Search(query, 10).Count(h => truth.Contains(h.Id));
        }
        Assert.True(found >= 0.93 * 1000, $"recall@10 on new queries {found / 1000.0} at breadth {tuning.Breadth}");

        using var given = FolderStore.Open(dir.File("s"), StoreAccess.Read, new FolderStoreOptions { SearchBreadth = 7 });
        Assert.Equal(10, given.SearchBreadth); // a breadth given when opening wins (never below top)
    }

    [Fact]
    public void A_store_grown_past_twice_its_tuned_rows_searches_with_the_default_until_tuned_again()
    {
        using var dir = new TempDir();
        var random = new Random(12);
        using var store = FolderStore.Open(dir.File("s"), StoreAccess.Write);
        store.Claim(Profile, "test");
        var (items, vectors) = Batch(random, 0, 1000);
        store.Add(items, vectors);
        var tuning = store.TuneSearch(0.95);
        Assert.Equal(tuning.Breadth, store.SearchBreadth);
        (items, vectors) = Batch(random, 1000, 1000);
        store.Add(items, vectors);
        Assert.Equal(tuning.Breadth, store.SearchBreadth); // 2,000 rows: twice, still held
        (items, vectors) = Batch(random, 2000, 1);
        store.Add(items, vectors);
        Assert.Equal(FolderStoreOptions.DefaultSearchBreadth, store.SearchBreadth);
        Assert.Equal(2001, store.TuneSearch(0.95).Rows);
        Assert.NotEqual(FolderStoreOptions.DefaultSearchBreadth, store.SearchBreadth);
    }

    [Fact]
    public void Tuning_an_empty_store_is_an_input_error_and_a_reader_cannot_tune()
    {
        using var dir = new TempDir();
        using (var store = FolderStore.Open(dir.File("s"), StoreAccess.Write))
        {
            var error = Assert.Throws<KeyEmbedException>(() => store.TuneSearch());
            Assert.Contains("is empty; index a corpus into it first", error.Message);
            store.Claim(Profile, "test");
            var (items, vectors) = Batch(new Random(13), 0, 50);
            store.Add(items, vectors);
        }
        using var reader = FolderStore.Open(dir.File("s"), StoreAccess.Read);
        Assert.Throws<InvalidOperationException>(() => reader.TuneSearch());
    }

    [Fact]
    public void A_store_whose_tuning_missed_its_target_scans_every_row_unless_a_breadth_is_given()
    {
        // 384-dimensional random vectors: a narrow walk of the graph misses some of their neighbours.
        using var dir = new TempDir();
        var random = new Random(14);
        var wide = Profile with { Dimensions = 384 };
        float[] Wide() => Unit(random, 384);
        using (var store = FolderStore.Open(dir.File("s"), StoreAccess.Write))
        {
            store.Claim(wide, "test");
            store.Add([.. Enumerable.Range(0, 3000).Select(i => new StoreItem("id" + i, "text " + i))], [.. Enumerable.Range(0, 3000).Select(_ => Wide())]);
        }
        // What a tuning that found no breadth reaching its target records.
        SetFolderMeta(dir.File("s"), "search_tuning", new SearchTuning(40, 0.5, 0.95, 100, 3000, Reached: false).ToJson());
        var queries = Enumerable.Range(0, 30).Select(_ => Wide()).ToList();

        using var reader = FolderStore.Open(dir.File("s"), StoreAccess.Read);
        Assert.False(reader.Tuning!.Reached);
        Assert.True(reader.SearchesExactly);
        foreach (var query in queries)
            Assert.Equal(reader.Search(query, 10, exact: true).Select(h => h.Id), reader.Search(query, 10).Select(h => h.Id));

        using var walking = FolderStore.Open(dir.File("s"), StoreAccess.Read, new FolderStoreOptions { SearchBreadth = 10 });
        Assert.False(walking.SearchesExactly);
        int found = queries.Sum(query =>
        {
            var truth = walking.Search(query, 10, exact: true).Select(h => h.Id).ToHashSet();
            return walking.Search(query, 10).Count(h => truth.Contains(h.Id));
        });
        Assert.True(found < 300, "the narrow walk found every neighbour, so the check above says nothing of the scan");
    }

    [Fact]
    public void A_tuning_with_given_queries_measures_with_them_and_records_that_it_did()
    {
        // 384-dimensional random vectors, where recall below 1 at the breadths tried makes two query sets measure
        // differently (in 16 dimensions every breadth finds everything).
        const int Width = 384;
        var profile = Profile with { Dimensions = Width };
        using var dir = new TempDir();
        var random = new Random(13);
        var vectors = Enumerable.Range(0, 3000).Select(_ => Unit(random, Width)).ToArray();
        var given = Enumerable.Range(0, 50).Select(_ => Unit(random, Width)).ToList();
        SearchTuning midpoints, tuning;
        using (var store = FolderStore.Open(dir.File("s"), StoreAccess.Write, new FolderStoreOptions { IndexPrecision = "float32" }))
        {
            store.Claim(profile, "test");
            store.Add([.. Enumerable.Range(0, vectors.Length).Select(i => new StoreItem("id" + i, "text " + i))], vectors);
            midpoints = store.TuneSearch(0.95);
            tuning = store.TuneSearch(0.95, progress: null, queries: given);
            Assert.Equal(tuning, store.Tuning);
        }
        Assert.False(midpoints.QueriesGiven);
        Assert.True(tuning.QueriesGiven);
        Assert.Equal(50, tuning.Queries);
        Assert.True(tuning.Reached);

        using var reader = FolderStore.Open(dir.File("s"), StoreAccess.Read);
        Assert.Equal(tuning, reader.Tuning);
        // The recall recorded is the recall of those queries at that breadth, measured again here.
        int found = 0;
        foreach (var query in given)
        {
            float tenth = reader.Search(query, 10, exact: true)[^1].Score - 1e-5f;
            found += reader.Search(query, 10).Count(h => h.Score >= tenth);
        }
        Assert.Equal(tuning.Recall, found / 500.0, 3);
    }

    [Fact]
    public void Too_few_or_misshapen_given_queries_are_refused_before_any_search()
    {
        using var dir = new TempDir();
        var random = new Random(14);
        using var store = FolderStore.Open(dir.File("s"), StoreAccess.Write);
        store.Claim(Profile, "test");
        var (items, vectors) = Batch(random, 0, 200);
        store.Add(items, vectors);
        var few = Assert.Throws<KeyEmbedException>(() => store.TuneSearch(0.95, null, [.. Enumerable.Range(0, SearchTuner.MinGivenQueries - 1).Select(_ => Unit(random))]));
        Assert.Contains($"at least {SearchTuner.MinGivenQueries}", few.Message);
        var wide = Assert.Throws<KeyEmbedException>(() => store.TuneSearch(0.95, null, [.. Enumerable.Range(0, 30).Select(_ => Unit(random, 8))]));
        Assert.Contains("16-dimensional", wide.Message);
        Assert.Null(store.Tuning);
    }
}
