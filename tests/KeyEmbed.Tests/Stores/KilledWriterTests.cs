using KeyEmbed.Cli.Commands;
using KeyEmbed.Stores;
using Microsoft.Data.Sqlite;

namespace KeyEmbed.Tests.Stores;

/// <summary>
/// The real CLI <c>index</c> into a folder store, killed with SIGKILL while it writes: the store opens at its last
/// committed chunk, every committed row is searchable, and <c>index</c> run again completes it with no duplicates.
/// </summary>
public sealed class KilledWriterTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    // Rows committed so far, read straight from store.db (a WAL reader beside the writer, which holds write.lock).
    private static long Committed(string store)
    {
        string database = Path.Combine(store, "store.db");
        if (!File.Exists(database)) return 0;
        try
        {
            using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM items";
            return (long)command.ExecuteScalar()!;
        }
        catch (SqliteException) { return 0; } // the writer is still creating the tables
    }

    [Fact]
    public async Task An_index_run_killed_mid_write_leaves_a_store_at_its_last_commit_and_a_rerun_completes_it_without_duplicates()
    {
        using var dir = new TempDir();
        var corpus = Enumerable.Range(0, 30_000).Select(i => $"keyword {i} on topic {i % 37}").ToArray();
        File.WriteAllLines(dir.File("corpus.txt"), corpus);
        string store = dir.File("store");
        string[] args = ["index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", store];

        // Kill three runs at different points: each resumes where the last one's commits stopped.
        long before = 0;
        for (int round = 0; round < 3; round++)
        {
            var writer = CliProcess.Start(args);
            _ = writer.StandardOutput.ReadToEndAsync();
            _ = writer.StandardError.ReadToEndAsync();
            long target = before + (round + 1) * IndexCommand.ChunkSize;
            for (int i = 0; i < 2400 && !writer.HasExited && Committed(store) < target; i++) await Task.Delay(25);
            Assert.False(writer.HasExited, "the writer finished before it could be killed; give it a larger corpus");
            writer.Kill(entireProcessTree: true); // SIGKILL on Unix: no handler, no flush, no index save
            await writer.WaitForExitAsync();

            using var reopened = FolderStore(store);
            long count = reopened.Count();
            Assert.InRange(count, target, corpus.Length - 1);
            // Whole chunks only: a chunk is one transaction, so a kill never leaves part of one.
            Assert.Equal(0, count % IndexCommand.ChunkSize);
            // The index file (never saved by a killed run) is caught up from the committed rows on opening.
            Assert.Equal(count, reopened.IndexedRows);
            for (long k = 0; k < count; k += 997)
            {
                var vector = reopened.Vector(VectorStores.ContentId(corpus[k]));
                Assert.NotNull(vector);
                // The tiny random model gives many texts the same vector, so the id itself may rank below its twins.
                Assert.True(reopened.Search(vector, 1)[0].Score > 0.9999f);
            }
            before = count;
        }

        var (code, _, error) = await CliProcess.FinishAsync(CliProcess.Start(args), TimeSpan.FromMinutes(5));
        Assert.True(code == 0, error);
        Assert.Contains($"indexed {corpus.Length - before} new texts ({before} already stored)", error);
        using (var done = FolderStore(store))
        {
            Assert.Equal(corpus.Length, done.Count());
            Assert.Equal(corpus.Length, done.IndexedRows);
            Assert.All(corpus.Where((_, i) => i % 1499 == 0), text => Assert.NotNull(done.Vector(VectorStores.ContentId(text))));
        }
        using var connection = new SqliteConnection($"Data Source={Path.Combine(store, "store.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*), count(DISTINCT id), count(DISTINCT text) FROM items";
        using var reader = command.ExecuteReader();
        Assert.True(reader.Read());
        Assert.Equal([corpus.Length, corpus.Length, corpus.Length], new[] { reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2) });
    }

    private static KeyEmbed.Stores.Folder.FolderStore FolderStore(string location) =>
        KeyEmbed.Stores.Folder.FolderStore.Open(location, StoreAccess.Read);
}
