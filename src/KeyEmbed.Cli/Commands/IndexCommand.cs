using System.CommandLine;
using System.Globalization;
using KeyEmbed.Stores;
using KeyEmbed.Stores.Folder;
using KeyEmbed.Stores.Postgres;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed index --input FILE|- --store STORE [--shard I/N]</c>: embeds a corpus (one text a line, or JSON Lines
/// with <c>id</c>, <c>text</c> and metadata fields) into a store, streamed in chunks of <see cref="ChunkSize"/> texts,
/// each chunk one commit (written while the next chunk is embedded), progress on standard error. Ids already stored are skipped before embedding, so running it
/// again adds only what is missing; <c>--shard I/N</c> takes the ids whose hash falls in shard I, so N processes
/// together store every row exactly once.
/// </summary>
internal static class IndexCommand
{
    /// <summary>Texts embedded and committed together.</summary>
    internal const int ChunkSize = 1024;

    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var store = StoreOptions.Store();
        var input = new Option<string>("--input") { Description = "The corpus: a UTF-8 file (one text a line, or JSON Lines with \"text\", optional \"id\" and metadata fields) or - for standard input.", Required = true };
        var inputFormat = new Option<string>("--input-format") { Description = "auto (default: JSON Lines for .jsonl/.ndjson files, else one text a line), lines or jsonl.", DefaultValueFactory = _ => "auto" };
        var shard = new Option<string?>("--shard") { Description = "I/N: index only shard I (0-based) of N, chosen by a hash of each id; N processes with I = 0..N-1 cover the corpus once." };
        var indexPrecision = new Option<string>("--index-precision") { Description = "A new folder store's HNSW index: int8 (default: a quarter of the memory, faster to build, 2-3x faster to search, same recall; scores stay exact float32 cosines) or float32. Ignored for PostgreSQL and existing stores.", DefaultValueFactory = _ => "int8" };
        var targetRecall = StoreOptions.TargetRecall();

        var command = new Command("index", "Embed a corpus into a vector store (a folder, or PostgreSQL with pgvector): streamed, resumable, shardable.");
        shared.AddTo(command);
        foreach (var option in new Option[] { store, input, inputFormat, shard, indexPrecision, targetRecall }) command.Options.Add(option);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string inputPath = parse.GetValue(input)!;
            var format = CorpusReader.ParseFormat(parse.GetValue(inputFormat)!, inputPath);
            var (shardIndex, shardCount) = parse.GetValue(shard) is { } s ? VectorStores.ParseShard(s, "--shard") : (0, 1);
            double? askedRecall = StoreOptions.CheckedTarget(parse.GetValue(targetRecall));
            var lines = EmbeddingOptionSet.ReadLines(ctx, inputPath, "--input");
            string source = inputPath == EmbeddingOptionSet.StandardInput ? "standard input" : inputPath;

            using var target = VectorStores.Open(parse.GetValue(store)!, StoreAccess.Write, new FolderStoreOptions { IndexPrecision = parse.GetValue(indexPrecision)!.Trim().ToLowerInvariant() },
                bulkLoad: true);
            var (model, options) = StoreOptions.Load(command, parse, shared, target.Profile);
            using var _ = model;
            target.Claim(StoreProfile.Of(model, options), "index");

            long total = lines.LongCount(), read = 0, added = 0, skipped = 0, otherShards = 0;
            double embedSeconds = 0, storeSeconds = 0;
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            // The store writes chunk k while chunk k+1 is embedded; chunks still commit one by one, in input order.
            using var pipeline = new StoreWritePipeline(target, texts => model.Embed(texts, options).Vectors);
            void Count(StoreWriteResult? result)
            {
                if (result is null) return;
                added += result.Added;
                skipped += result.AlreadyStored;
                embedSeconds += result.EmbedSeconds;
                storeSeconds += result.StoreSeconds;
            }
            void Work(Action<long> report)
            {
                foreach (var chunk in Numbered(lines).Chunk(ChunkSize))
                {
                    var items = CorpusReader.Read(chunk.Select(c => c.Line), format, source, chunk[0].Number).ToList();
                    var mine = shardCount == 1 ? items : items.Where(i => VectorStores.ShardOf(i.Id, shardCount) == shardIndex).ToList();
                    otherShards += items.Count - mine.Count;
                    Count(pipeline.Add(mine));
                    read += chunk.Length;
                    report(read);
                }
                Count(pipeline.Finish());
            }
            if (total > ChunkSize) new ProgressReport(ctx.Error, total).Run(Work);
            else Work(_ => { });
            if (target is FolderStore folder) folder.Flush();
            // A PostgreSQL table this run created gets its HNSW index now, built once over every row.
            if (target is PgVectorStore table) table.BuildIndex();
            double seconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds;
            long stored = target.Count();
            ctx.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"indexed {added} new texts ({skipped} already stored{(shardCount > 1 ? $", {otherShards} in other shards" : "")}) into {target.Location}, which holds {stored}; {seconds:F1} s: embedding {embedSeconds:F1} s, store {storeSeconds:F1} s ({pipeline.WaitSeconds:F1} s of it not overlapped with embedding)"));
            // How wide a search must walk depends on the data and grows with the rows: measure it when the store is new
            // to tuning, has outgrown its tuning, or another target is asked for.
            var tuning = target.Tuning;
            if (stored >= SearchTuner.MinRows && (tuning is null || !tuning.HoldsFor(stored) || (askedRecall is { } asked && asked != tuning.TargetRecall)))
            {
                // The store keeps a tuning's result, not its queries: say what replaces a tuning made with the user's own.
                if (tuning is { QueriesGiven: true })
                    ctx.Error.WriteLine($"note: {target.Location} was tuned with your own queries; this tuning uses midpoints of stored texts instead (the queries are not kept): run keyembed tune --store {target.Location} --queries FILE again to measure with yours");
                StoreOptions.Tune(ctx, target, askedRecall ?? tuning?.TargetRecall ?? SearchTuner.DefaultTargetRecall, ctx.Error);
            }
            return 0;
        }));
        return command;
    }

    private static IEnumerable<(string Line, long Number)> Numbered(IEnumerable<string> lines)
    {
        long number = 0;
        foreach (var line in lines) yield return (line, ++number);
    }
}
