using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KeyEmbed.Embedding;
using KeyEmbed.Similarity;
using Spectre.Console;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed similarity [options] TEXT...</c>: the cosine matrix of a set of texts and each text's similarity to the
/// set (to its mean vector, and its mean pairwise similarity), as an aligned table, JSON
/// (<c>{"texts", "matrix", "to_set", "mean_pairwise"}</c> — a contract checked outside the tests) or CSV; with
/// <c>--query Q</c> the texts nearest to Q instead. No texts at all give an empty result and exit code 0.
/// </summary>
internal static class SimilarityCommand
{
    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var format = new Option<string>("--format") { Description = "table (default), json or csv.", DefaultValueFactory = _ => "table" };
        var input = new Option<string?>("--input") { Description = "A UTF-8 file of one text a line, added after the TEXT arguments (empty lines are texts too); - reads standard input." };
        var query = new Option<string?>("--query") { Description = "Rank the texts by similarity to this query instead of printing the matrix." };
        var top = new Option<int>("--top") { Description = "With --query: how many nearest texts to show (default 5).", DefaultValueFactory = _ => 5 };
        var texts = new Argument<string[]>("texts") { Description = "Keywords or sentences to compare.", Arity = ArgumentArity.ZeroOrMore };

        var command = new Command("similarity", "Cosine similarity of keywords or sentences: the matrix, each text against the set, or the nearest texts to a query.");
        shared.AddTo(command);
        foreach (var option in new Option[] { format, input, query, top }) command.Options.Add(option);
        command.Arguments.Add(texts);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string outputFormat = parse.GetValue(format)!.Trim().ToLowerInvariant();
            if (outputFormat is not ("table" or "json" or "csv"))
                throw KeyEmbedException.Input($"--format: '{parse.GetValue(format)}' is not one of table, json, csv");
            string? q = parse.GetValue(query);
            int k = parse.GetValue(top);
            if (k < 1) throw KeyEmbedException.Input($"--top must be at least 1 (got {k})");
            if (q is not null && outputFormat == "csv") throw KeyEmbedException.Input("--query prints a table or json; --format csv is for the matrix");
            var options = shared.EmbeddingOptions(parse);
            if (options.Pooling == PoolingMode.None) throw KeyEmbedException.Input("--pooling none gives token vectors, which have no single similarity; use another pooling");
            var items = new List<string>(EmbeddingOptionSet.Texts(parse, texts));
            if (parse.GetValue(input) is { } file) items.AddRange(EmbeddingOptionSet.ReadLines(ctx, file, "--input"));

            using var model = shared.Load(parse);
            var plan = EmbeddingOptionSet.Resolve(model, options);
            if (q is not null)
            {
                var result = model.Embed([q, .. items], options);
                NoteWindows(ctx, result, model);
                EmbeddingOptionSet.WarnUnknownTokens(ctx, model, [q, .. items]);
                var neighbours = NearestNeighbours.TopK(result.Vectors[0], result.Vectors[1..], k);
                if (outputFormat == "json") WriteNeighboursJson(ctx.Out, q, items, neighbours);
                else WriteNeighboursTable(ctx.Out, q, items, neighbours);
                return 0;
            }
            var embedded = model.Embed(items, options);
            NoteWindows(ctx, embedded, model);
            EmbeddingOptionSet.WarnUnknownTokens(ctx, model, items);
            var similarity = SimilarityMatrix.Compute(embedded.Vectors);
            switch (outputFormat)
            {
                case "json":
                    using (var stream = new TextWriterStream(ctx.Out)) SimilarityOutput.WriteJson(stream, items, similarity);
                    ctx.Out.WriteLine();
                    break;
                case "csv":
                    SimilarityOutput.WriteCsv(ctx.Out, items, similarity);
                    break;
                default:
                    WriteTable(ctx.Out, items, similarity, model, plan);
                    break;
            }
            return 0;
        }));
        return command;
    }

    /// <summary>Says on stderr how many texts were longer than the window and so embedded by windows and averaged.</summary>
    internal static void NoteWindows(CliContext ctx, EmbeddingResult result, KeyEmbedModel model) =>
        NoteWindows(ctx, result.WindowedCount, model);

    internal static void NoteWindows(CliContext ctx, long windowed, KeyEmbedModel model)
    {
        if (windowed == 0) return;
        ctx.Error.WriteLine($"note: {windowed} text{(windowed == 1 ? " was" : "s were")} longer than the model's {model.Info.MaxTokens}-token window; " +
            (model.Info.LongText == Architectures.LongTextStrategy.SegmentRecurrence
                ? "each ran as segments with memory (segment recurrence) and was pooled over all its tokens"
                : "each was embedded by windows and the windows' vectors averaged"));
    }

    private static void WriteTable(TextWriter writer, IReadOnlyList<string> texts, SimilarityMatrix similarity, KeyEmbedModel model, ResolvedEmbeddingOptions plan)
    {
        if (texts.Count == 0)
        {
            writer.WriteLine("(no texts: nothing to compare)");
            return;
        }
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn(new TableColumn("#").RightAligned());
        table.AddColumn(new TableColumn("text"));
        // Texts are numbered from 0, as JSON's "index" and the position in "texts" are: one numbering everywhere.
        for (int j = 0; j < texts.Count; j++) table.AddColumn(new TableColumn(j.ToString(CultureInfo.InvariantCulture)).RightAligned());
        table.AddColumn(new TableColumn("to set").RightAligned());
        table.AddColumn(new TableColumn("mean pairwise").RightAligned());
        for (int i = 0; i < texts.Count; i++)
        {
            var row = new List<string> { i.ToString(CultureInfo.InvariantCulture), ConsoleOutput.Cell(texts[i]) };
            row.AddRange(similarity.Matrix[i].Select(Number));
            row.Add(Number(similarity.ToSet[i]));
            row.Add(texts.Count > 1 ? Number(similarity.MeanPairwise[i]) : "-");
            table.AddRow([.. row]);
        }
        ConsoleOutput.Write(writer, table);
        writer.WriteLine(Describe(model, plan));
    }

    private static void WriteNeighboursTable(TextWriter writer, string query, IReadOnlyList<string> texts, IReadOnlyList<Neighbour> neighbours)
    {
        writer.WriteLine($"nearest to: {query}");
        if (neighbours.Count == 0)
        {
            writer.WriteLine("(no texts to search)");
            return;
        }
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn(new TableColumn("rank").RightAligned());
        table.AddColumn(new TableColumn("#").RightAligned());
        table.AddColumn(new TableColumn("text"));
        table.AddColumn(new TableColumn("cosine").RightAligned());
        for (int r = 0; r < neighbours.Count; r++)
        {
            var n = neighbours[r];
            table.AddRow((r + 1).ToString(CultureInfo.InvariantCulture), n.Index.ToString(CultureInfo.InvariantCulture),
                ConsoleOutput.Cell(texts[n.Index]), Number(n.Similarity));
        }
        ConsoleOutput.Write(writer, table);
    }

    private static void WriteNeighboursJson(TextWriter writer, string query, IReadOnlyList<string> texts, IReadOnlyList<Neighbour> neighbours)
    {
        using (var stream = new TextWriterStream(writer))
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteString("query", query);
            json.WriteStartArray("neighbours");
            foreach (var n in neighbours)
            {
                json.WriteStartObject();
                json.WriteNumber("index", n.Index);
                json.WriteString("text", texts[n.Index]);
                json.WriteNumber("similarity", n.Similarity);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        writer.WriteLine();
    }

    internal static string Describe(KeyEmbedModel model, ResolvedEmbeddingOptions plan) =>
        $"{model.Info.Name}: hidden state{(plan.Layers.Count > 1 ? "s" : "")} {string.Join(",", plan.Layers)}{(plan.Layers.Count > 1 ? $" ({plan.LayerMode.ToString().ToLowerInvariant()})" : "")}, " +
        $"{EmbeddingOptions.FormatPooling(plan.Pooling)} pooling{(plan.ExcludeSpecialTokens ? " without special tokens" : "")}, " +
        $"{plan.Dimensions} dimensions{(plan.Normalize ? ", normalized" : "")}" +
        (model.ComputePrecision == Architectures.ComputePrecision.Int8 ? ", int8 arithmetic" : "") + "; cosine";

    private static string Number(float x) => x.ToString("0.000", CultureInfo.InvariantCulture);
}
