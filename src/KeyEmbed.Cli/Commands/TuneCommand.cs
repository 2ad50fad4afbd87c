using System.CommandLine;
using KeyEmbed.Stores;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed tune --store STORE [--target-recall R] [--queries FILE]</c>: measures how wide a search must walk the
/// store's HNSW graph to find R of the exact top 10 and records it in the store, so later searches (the CLI's and the
/// service's) use it. <c>index</c> does this by itself when a store is new or has doubled, with midpoints of stored
/// texts as queries; this command is for stores filled through the service, for another target, or to measure with
/// queries like the real ones (<c>--queries</c>), which on clustered data need far narrower walks than midpoints.
/// </summary>
internal static class TuneCommand
{
    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var store = StoreOptions.Store();
        var targetRecall = StoreOptions.TargetRecall();
        var queries = new Option<string?>("--queries")
        {
            Description = $"Measure with these queries instead of midpoints of stored texts: a UTF-8 file of one query a line (blank lines skipped; - reads standard input), texts like the ones searches will ask and not stored ones; at least {SearchTuner.MinGivenQueries}, {SearchTuner.SampleSize} or more for a steadier measure (the sample must beat the target by two standard errors of its per-query recall). Embedded with the store's model and options.",
        };
        var command = new Command("tune", "Measure and record the search breadth a store needs for a recall target (index does this by itself as a store grows).");
        shared.AddTo(command);
        command.Options.Add(store);
        command.Options.Add(targetRecall);
        command.Options.Add(queries);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            double? asked = StoreOptions.CheckedTarget(parse.GetValue(targetRecall));
            string location = parse.GetValue(store)!;
            List<string>? queryTexts = parse.GetValue(queries) is { } file
                ? [.. EmbeddingOptionSet.ReadLines(ctx, file, "--queries").Where(line => !string.IsNullOrWhiteSpace(line))]
                : null;
            if (queryTexts is { Count: < SearchTuner.MinGivenQueries })
                throw KeyEmbedException.Input($"--queries: {queryTexts.Count} queries in {parse.GetValue(queries)}; tuning needs at least {SearchTuner.MinGivenQueries} ({SearchTuner.SampleSize} or more give a steadier measure)");
            // Opened to read first: a store that does not exist is an error here, not an empty store made by asking.
            using (var existing = StoreOptions.Open(location, StoreAccess.Read, searchBreadth: null))
                if (existing.Profile is null) throw KeyEmbedException.Input($"store {existing.Location} is empty; add texts with keyembed index first");
            using var target = StoreOptions.Open(location, StoreAccess.Write, searchBreadth: null);
            IReadOnlyList<float[]>? vectors = null;
            if (queryTexts is not null)
            {
                var (model, options) = StoreOptions.Load(command, parse, shared, target.Profile);
                using var _ = model;
                target.Profile!.Check(StoreProfile.Of(model, options), target.Location, "tune");
                vectors = model.Embed(queryTexts, options).Vectors;
            }
            StoreOptions.Tune(ctx, target, asked ?? target.Tuning?.TargetRecall ?? SearchTuner.DefaultTargetRecall, ctx.Out, vectors);
            return 0;
        }));
        return command;
    }
}
