using Npgsql;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Postgres;

namespace KeyEmbed.Tests.Stores;

/// <summary><c>index --shard I/N</c>: separate processes into one PostgreSQL table, every row exactly once.</summary>
[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector")]
public sealed class ShardTests(PostgresServer postgres)
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    // One text in ten is a repeat of an earlier one.
    private static string[] Corpus(int count) =>
        [.. Enumerable.Range(0, count).Select(i => i % (count - count / 10)).Select(k => $"keyword {k} on topic {k % 37}")];

    private static List<(string Id, string Text)> Rows(string location)
    {
        var (builder, table, _) = PgVectorStore.Parse(location);
        using var connection = new NpgsqlConnection(builder.ConnectionString);
        connection.Open();
        using var command = new NpgsqlCommand($"SELECT id, text FROM {table} ORDER BY id", connection);
        using var reader = command.ExecuteReader();
        var rows = new List<(string, string)>();
        while (reader.Read()) rows.Add((reader.GetString(0), reader.GetString(1)));
        return rows;
    }

    [Fact]
    public async Task Three_shard_processes_hold_exactly_the_rows_of_one_unsharded_run_and_a_rerun_adds_nothing()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("corpus.txt"), Corpus(3000));
        string whole = postgres.NewStore("whole"), sharded = postgres.NewStore("sharded");
        var (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", whole);
        Assert.True(code == 0, error);

        var shards = Enumerable.Range(0, 3)
            .Select(i => CliProcess.Start("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", sharded, "--shard", $"{i}/3"))
            .ToList();
        foreach (var shard in shards)
        {
            var (exit, _, shardError) = await CliProcess.FinishAsync(shard, TimeSpan.FromMinutes(3));
            Assert.True(exit == 0, shardError);
            Assert.Contains("in other shards", shardError);
        }
        var expected = Rows(whole);
        Assert.Equal(2700, expected.Count);
        Assert.Equal(expected, Rows(sharded));

        (code, _, error) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", sharded, "--shard", "1/3");
        Assert.True(code == 0, error);
        Assert.Contains("indexed 0 new texts", error);
        Assert.Equal(expected.Count, Rows(sharded).Count);
    }

    [Fact]
    public async Task A_shard_killed_mid_run_and_started_again_finishes_with_no_duplicates()
    {
        using var dir = new TempDir();
        var corpus = Corpus(40_000);
        File.WriteAllLines(dir.File("corpus.txt"), corpus);
        string location = postgres.NewStore("killed");
        string[] args = ["index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", location, "--shard", "0/2"];

        var first = CliProcess.Start(args);
        _ = first.StandardOutput.ReadToEndAsync();
        _ = first.StandardError.ReadToEndAsync();
        long seen = 0;
        for (int i = 0; i < 1200 && !first.HasExited && seen == 0; i++)
        {
            await Task.Delay(50);
            try { using var store = VectorStores.Open(location, StoreAccess.Read); seen = store.Count(); }
            catch (KeyEmbedException) { }
        }
        Assert.False(first.HasExited, "the shard finished before it could be killed; give it a larger corpus");
        first.Kill(entireProcessTree: true);
        await first.WaitForExitAsync();
        int atKill = Rows(location).Count;
        Assert.InRange(atKill, 1, 19_999);

        var (code, _, error) = await CliProcess.FinishAsync(CliProcess.Start(args), TimeSpan.FromMinutes(3));
        Assert.True(code == 0, error);
        var rows = Rows(location);
        var expected = corpus.Distinct().Where(t => VectorStores.ShardOf(VectorStores.ContentId(t), 2) == 0)
            .Select(t => (VectorStores.ContentId(t), t)).OrderBy(r => r.Item1, StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, rows.Count);
        Assert.Equal(expected.Select(r => r.Item1).ToHashSet(), rows.Select(r => r.Id).ToHashSet());
    }
}
