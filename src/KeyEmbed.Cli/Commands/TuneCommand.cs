using System.CommandLine;
using KeyEmbed.Stores;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed tune --store STORE [--target-recall R]</c>: measures how wide a search must walk the store's HNSW graph
/// to find R of the exact top 10 and records it in the store, so later searches (the CLI's and the service's) use it.
/// <c>index</c> does this by itself when a store is new or has doubled; this command is for stores filled through the
/// service, or to ask for another target.
/// </summary>
internal static class TuneCommand
{
    public static Command Create(CliContext ctx)
    {
        var store = StoreOptions.Store();
        var targetRecall = StoreOptions.TargetRecall();
        var command = new Command("tune", "Measure and record the search breadth a store needs for a recall target (index does this by itself as a store grows).");
        command.Options.Add(store);
        command.Options.Add(targetRecall);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            double? asked = StoreOptions.CheckedTarget(parse.GetValue(targetRecall));
            string location = parse.GetValue(store)!;
            // Opened to read first: a store that does not exist is an error here, not an empty store made by asking.
            using (var existing = StoreOptions.Open(location, StoreAccess.Read, searchBreadth: null))
                if (existing.Profile is null) throw KeyEmbedException.Input($"store {existing.Location} is empty; add texts with keyembed index first");
            using var target = StoreOptions.Open(location, StoreAccess.Write, searchBreadth: null);
            StoreOptions.Tune(ctx, target, asked ?? target.Tuning?.TargetRecall ?? SearchTuner.DefaultTargetRecall, ctx.Out);
            return 0;
        }));
        return command;
    }
}
