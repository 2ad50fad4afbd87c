using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KeyEmbed.Stores;
using Spectre.Console;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed search --store STORE (--query TEXT | --input FILE|-) [--top K] [--exact]</c>: the stored texts nearest
/// to each query, best first, by the store's HNSW index (or every stored vector with <c>--exact</c>). JSON is the
/// contract <c>{"queries": [...], "results": [[{"id", "text", "score"}, ...], ...]}</c>, one list per query in input order.
/// </summary>
internal static class SearchCommand
{
    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var store = StoreOptions.Store();
        var query = new Option<string[]>("--query") { Description = "A query text (repeat for several).", AllowMultipleArgumentsPerToken = false };
        var input = new Option<string?>("--input") { Description = "A UTF-8 file of one query a line (blank lines skipped); - reads standard input." };
        var top = new Option<int>("--top") { Description = "How many stored texts per query (default 10).", DefaultValueFactory = _ => 10 };
        var exact = new Option<bool>("--exact") { Description = "Compare with every stored vector (brute force) instead of the HNSW index." };
        var format = new Option<string>("--format") { Description = "table (default), json or csv.", DefaultValueFactory = _ => "table" };
        var breadth = StoreOptions.SearchBreadth();

        var command = new Command("search", "Nearest stored texts to queries, from a vector store made by index (the store's model and options are used).");
        shared.AddTo(command);
        foreach (var option in new Option[] { store, query, input, top, exact, breadth, format }) command.Options.Add(option);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string outputFormat = parse.GetValue(format)!.Trim().ToLowerInvariant();
            if (outputFormat is not ("table" or "json" or "csv"))
                throw KeyEmbedException.Input($"--format: '{parse.GetValue(format)}' is not one of table, json, csv");
            int k = parse.GetValue(top);
            if (k < 1) throw KeyEmbedException.Input($"--top must be at least 1 (got {k})");
            var queries = new List<string>(parse.GetValue(query) ?? []);
            if (parse.GetValue(input) is { } file)
                queries.AddRange(EmbeddingOptionSet.ReadLines(ctx, file, "--input").Where(l => !string.IsNullOrWhiteSpace(l)));
            if (queries.Count == 0) throw KeyEmbedException.Input("give --query TEXT or --input FILE (one query a line)");

            using var source = StoreOptions.Open(parse.GetValue(store)!, StoreAccess.Read, parse.GetValue(breadth));
            if (source.Profile is null) throw KeyEmbedException.Input($"store {source.Location} is empty; add texts with keyembed index first");
            var (model, options) = StoreOptions.Load(command, parse, shared, source.Profile);
            using var _ = model;
            source.Profile.Check(StoreProfile.Of(model, options), source.Location, "search");
            var vectors = model.Embed(queries, options).Vectors;
            bool brute = parse.GetValue(exact);
            if (!brute && source.SearchesExactly && source.Tuning is { } tuning)
                ctx.Error.WriteLine(FormattableString.Invariant(
                    $"note: scanning every row of {source.Location}: its tuning found no search breadth reaching recall {tuning.TargetRecall:0.###} (the widest, {tuning.Breadth}, found {tuning.Recall:F3}); --search-breadth {tuning.Breadth} walks the graph instead"));
            var results = vectors.Select(v => source.Search(v, k, brute)).ToList();
            switch (outputFormat)
            {
                case "json": WriteJson(ctx.Out, queries, results); break;
                case "csv": WriteCsv(ctx.Out, queries, results); break;
                default: WriteTables(ctx.Out, queries, results); break;
            }
            return 0;
        }));
        return command;
    }

    internal static void WriteJson(TextWriter output, IReadOnlyList<string> queries, IReadOnlyList<IReadOnlyList<StoreHit>> results)
    {
        using (var stream = new TextWriterStream(output))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartArray("queries");
            foreach (var q in queries) json.WriteStringValue(q);
            json.WriteEndArray();
            json.WriteStartArray("results");
            foreach (var hits in results)
            {
                json.WriteStartArray();
                foreach (var hit in hits)
                {
                    json.WriteStartObject();
                    json.WriteString("id", hit.Id);
                    json.WriteString("text", hit.Text);
                    json.WriteNumber("score", hit.Score);
                    json.WriteEndObject();
                }
                json.WriteEndArray();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        output.WriteLine();
    }

    private static void WriteCsv(TextWriter output, IReadOnlyList<string> queries, IReadOnlyList<IReadOnlyList<StoreHit>> results)
    {
        static string Field(string value) => value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
        output.WriteLine("query,rank,id,text,score");
        for (int q = 0; q < queries.Count; q++)
            for (int r = 0; r < results[q].Count; r++)
            {
                var hit = results[q][r];
                output.WriteLine(string.Join(",", Field(queries[q]), (r + 1).ToString(CultureInfo.InvariantCulture), Field(hit.Id), Field(hit.Text),
                    hit.Score.ToString("R", CultureInfo.InvariantCulture)));
            }
    }

    private static void WriteTables(TextWriter output, IReadOnlyList<string> queries, IReadOnlyList<IReadOnlyList<StoreHit>> results)
    {
        for (int q = 0; q < queries.Count; q++)
        {
            var table = new Table().Title(ConsoleOutput.Cell(queries[q])).AddColumn("#").AddColumn("score").AddColumn("id").AddColumn("text");
            for (int r = 0; r < results[q].Count; r++)
            {
                var hit = results[q][r];
                table.AddRow((r + 1).ToString(CultureInfo.InvariantCulture), hit.Score.ToString("F4", CultureInfo.InvariantCulture), ConsoleOutput.Cell(hit.Id), ConsoleOutput.Cell(hit.Text));
            }
            ConsoleOutput.Write(output, table);
        }
    }
}
