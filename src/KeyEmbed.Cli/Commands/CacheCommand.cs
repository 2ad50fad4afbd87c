using System.CommandLine;
using System.Globalization;
using KeyEmbed.Runtime;
using Spectre.Console;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed cache list</c>: the built graphs kept on disk (size, last use, what they were built from) with the
/// folder, total and size cap; <c>keyembed cache clear</c>: deletes them and says how much was freed. The folder and cap
/// come from <c>KEYEMBED_CACHE</c> / <c>XDG_CACHE_HOME</c> and <c>KEYEMBED_CACHE_MAX</c> (docs/cache.md).
/// </summary>
internal static class CacheCommand
{
    public static Command Create(CliContext ctx, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var command = new Command("cache", "Lists or clears the graph cache (built ONNX graphs kept on disk; docs/cache.md).");

        var list = new Command("list", "Shows each cached graph's size, last use and what it was built from, the folder, the total and the size cap.");
        list.SetAction(_ => CliApp.Guard(ctx, () =>
        {
            var cache = Open(environment);
            if (cache is null)
            {
                ctx.Out.WriteLine("the graph cache is off (KEYEMBED_CACHE=off)");
                return 0;
            }
            var entries = cache.List();
            if (entries.Count > 0)
            {
                var table = new Table().Border(TableBorder.Rounded);
                table.AddColumn("key");
                table.AddColumn(new TableColumn("size").RightAligned());
                table.AddColumn("last used (UTC)");
                table.AddColumn("built from");
                foreach (var e in entries)
                    table.AddRow(e.Key[..12], Size(e.Bytes), e.LastUsedUtc.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
                        ConsoleOutput.Cell(e.Label.Length > 0 ? e.Label : "?"));
                ConsoleOutput.Write(ctx.Out, table);
            }
            long total = entries.Sum(e => e.Bytes);
            ctx.Out.WriteLine($"{entries.Count} graph{(entries.Count == 1 ? "" : "s")}, {Size(total)} of a {Size(cache.MaxBytes)} cap, in {cache.Directory}");
            return 0;
        }));

        var clear = new Command("clear", "Deletes every cached graph (KeyEmbed rebuilds what it needs on the next start).");
        clear.SetAction(_ => CliApp.Guard(ctx, () =>
        {
            var cache = Open(environment);
            if (cache is null)
            {
                ctx.Out.WriteLine("the graph cache is off (KEYEMBED_CACHE=off)");
                return 0;
            }
            int count = cache.List().Count;
            long freed = cache.Clear();
            ctx.Out.WriteLine($"cleared {count} graph{(count == 1 ? "" : "s")}, freed {Size(freed)} in {cache.Directory}");
            return 0;
        }));

        command.Subcommands.Add(list);
        command.Subcommands.Add(clear);
        return command;
    }

    private static GraphCache? Open(Func<string, string?> environment) =>
        GraphCache.DefaultDirectory(environment) is { } directory
            ? new GraphCache(directory, GraphCache.DefaultMaxSize(environment))
            : null;

    /// <summary>Bytes in binary units (B, KiB, MiB, GiB), one decimal above bytes.</summary>
    internal static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        int unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
