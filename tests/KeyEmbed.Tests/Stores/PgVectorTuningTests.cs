using System.Numerics.Tensors;
using static KeyEmbed.Tests.Stores.StoreTestData;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Postgres;
using Npgsql;

namespace KeyEmbed.Tests.Stores;

/// <summary>A PostgreSQL store's search tuning: measured on the HNSW index, recorded in keyembed_stores, used as ef_search.</summary>
[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector")]
public sealed class PgVectorTuningTests(PostgresServer postgres)
{
    private string Filled(string prefix, int rows, bool buildIndex = true)
    {
        string location = postgres.NewStore(prefix);
        var random = new Random(31);
        using var store = PgVectorStore.Open(location, StoreAccess.Write, bulkLoad: true);
        store.Claim(Profile, "test");
        store.Add([.. Enumerable.Range(0, rows).Select(i => new StoreItem("id" + i, "text " + i))], [.. Enumerable.Range(0, rows).Select(_ => Unit(random))]);
        if (buildIndex) store.BuildIndex();
        return location;
    }

    [Fact]
    public void The_tuned_ef_search_is_recorded_and_used_by_later_searches_unless_a_breadth_is_given()
    {
        string location = Filled("tuned", 1500);
        SearchTuning tuning;
        using (var writer = PgVectorStore.Open(location, StoreAccess.Write))
        {
            Assert.Null(writer.Tuning);
            Assert.Equal(100, writer.EfSearchFor(10));
            tuning = writer.TuneSearch(0.97);
        }
        Assert.True(tuning.Reached);
        Assert.True(tuning.Recall >= 0.97, $"recall {tuning.Recall}");
        Assert.Equal(1500, tuning.Rows);
        Assert.InRange(tuning.Breadth, 40, PgVectorStore.MaxSearchBreadth);

        using var reader = PgVectorStore.Open(location, StoreAccess.Read);
        Assert.Equal(tuning, reader.Tuning);
        Assert.Equal(Math.Max(10, tuning.Breadth), reader.EfSearchFor(10));
        Assert.Equal(Math.Min(1000, Math.Max(50, tuning.Breadth * 5)), reader.EfSearchFor(50));
        using var given = PgVectorStore.Open(location, StoreAccess.Read, searchBreadth: 400);
        Assert.Equal(400, given.EfSearchFor(10));
    }

    [Fact]
    public void A_tuning_with_given_queries_is_recorded_as_such()
    {
        string location = Filled("given", 1200);
        var random = new Random(33);
        var queries = Enumerable.Range(0, 40).Select(_ => Unit(random)).ToList();
        SearchTuning tuning;
        using (var writer = PgVectorStore.Open(location, StoreAccess.Write)) tuning = writer.TuneSearch(0.9, null, queries);
        Assert.True(tuning.QueriesGiven);
        Assert.Equal(40, tuning.Queries);
        using var reader = PgVectorStore.Open(location, StoreAccess.Read);
        Assert.Equal(tuning, reader.Tuning);
    }

    [Fact]
    public void A_writer_that_adds_past_twice_the_tuned_rows_searches_with_the_fixed_default_again()
    {
        string location = Filled("outgrown", 1000);
        var random = new Random(32);
        using var writer = PgVectorStore.Open(location, StoreAccess.Write);
        var tuning = writer.TuneSearch(0.95);
        Assert.Equal(Math.Max(10, tuning.Breadth), writer.EfSearchFor(10));
        writer.Add([.. Enumerable.Range(1000, 1000).Select(i => new StoreItem("id" + i, "text " + i))], [.. Enumerable.Range(0, 1000).Select(_ => Unit(random))]);
        Assert.Equal(Math.Max(10, tuning.Breadth), writer.EfSearchFor(10)); // 2,000 rows: twice, still held
        writer.Add([new StoreItem("one-more", "text")], [Unit(random)]);
        Assert.Equal(100, writer.EfSearchFor(50)); // max(100, 2 × top), where the tuning would give at least 5 × 40
    }

    [Fact]
    public void A_table_without_its_hnsw_index_yet_cannot_be_tuned_and_says_why()
    {
        string location = Filled("noindex", 200, buildIndex: false);
        using var writer = PgVectorStore.Open(location, StoreAccess.Write, bulkLoad: true);
        var error = Assert.Throws<KeyEmbedException>(() => writer.TuneSearch());
        Assert.Contains("has no HNSW index yet", error.Message);
    }

    [Fact]
    public void A_keyembed_stores_table_made_before_tuning_existed_is_read_as_untuned_and_gets_the_column_from_a_writer()
    {
        string location = Filled("oldschema", 300);
        using (var source = NpgsqlDataSource.Create(PgVectorStore.Parse(location).Builder.ConnectionString))
        using (var drop = source.CreateCommand("ALTER TABLE keyembed_stores DROP COLUMN IF EXISTS search_tuning"))
            drop.ExecuteNonQuery();
        using (var reader = PgVectorStore.Open(location, StoreAccess.Read))
        {
            Assert.Null(reader.Tuning);
            Assert.Equal(100, reader.EfSearchFor(10));
            Assert.Single(reader.Search(new float[16] { 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 1));
        }
        using var writer = PgVectorStore.Open(location, StoreAccess.Write);
        Assert.Equal(300, writer.TuneSearch().Rows);
    }

    [Fact]
    public void A_table_whose_tuning_missed_its_target_is_searched_by_a_scan_unless_a_breadth_is_given()
    {
        string location = Filled("scanning", 1500);
        var (builder, table, _) = PgVectorStore.Parse(location);
        // What a tuning that found no ef_search reaching its target records.
        using (var source = NpgsqlDataSource.Create(builder.ConnectionString))
        using (var update = source.CreateCommand("UPDATE keyembed_stores SET search_tuning = $1 WHERE name = $2"))
        {
            update.Parameters.AddWithValue(new SearchTuning(1000, 0.6, 0.95, 100, 1500, Reached: false).ToJson());
            update.Parameters.AddWithValue(table);
            Assert.Equal(1, update.ExecuteNonQuery());
        }
        var random = new Random(33);
        var query = Unit(random);

        using var reader = PgVectorStore.Open(location, StoreAccess.Read);
        Assert.True(reader.SearchesExactly);
        string plan = reader.ExplainSearch(query, 10);
        Assert.DoesNotContain("_embedding_hnsw", plan);
        Assert.Contains("Seq Scan", plan);
        Assert.Equal(reader.Search(query, 10, exact: true).Select(h => h.Id), reader.Search(query, 10).Select(h => h.Id));

        using var walking = PgVectorStore.Open(location, StoreAccess.Read, searchBreadth: 400);
        Assert.False(walking.SearchesExactly);
        Assert.Contains("_embedding_hnsw", walking.ExplainSearch(query, 10));
    }
}
