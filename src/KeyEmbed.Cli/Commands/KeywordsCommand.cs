using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using KeyEmbed.Similarity;
using Spectre.Console;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed keywords --doc FILE|-|TEXT [--top N] [--diversity D] [--ngram MIN,MAX] [--candidates FILE]</c>: the
/// document's phrases (or the given candidates) ranked by cosine to the document, as KeyBERT does, optionally
/// diversified by maximal marginal relevance. Chinese text is segmented by jieba.
/// </summary>
internal static class KeywordsCommand
{
    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var doc = new Option<string>("--doc") { Description = "The document: a UTF-8 text file, - for standard input, or the text itself (a one-word value that looks like a file name, such as notes.txt, must be a file).", Required = true };
        var top = new Option<int>("--top") { Description = "How many keywords (default 5).", DefaultValueFactory = _ => 5 };
        var diversity = new Option<double>("--diversity") { Description = "0 (default) = rank by similarity only; up to 1 = maximal marginal relevance trades relevance for variety." };
        var ngram = new Option<string>("--ngram") { Description = $"Candidate phrase length in words, MIN,MAX (default 1,2; at most {KeywordOptions.NgramLimit}).", DefaultValueFactory = _ => "1,2" };
        var candidates = new Option<string?>("--candidates") { Description = "A file of candidate phrases, one a line, ranked instead of the document's own n-grams; - reads standard input." };
        var keepStopWords = new Option<bool>("--keep-stop-words") { Description = "Let n-grams contain stop words (English and Chinese lists)." };
        var format = new Option<string>("--format") { Description = "table (default) or json.", DefaultValueFactory = _ => "table" };

        var command = new Command("keywords", "Rank a document's keywords (its n-grams or given candidates) by similarity to the document, as KeyBERT does.");
        shared.AddTo(command);
        foreach (var option in new Option[] { doc, top, diversity, ngram, candidates, keepStopWords, format }) command.Options.Add(option);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string outputFormat = parse.GetValue(format)!.Trim().ToLowerInvariant();
            if (outputFormat is not ("table" or "json"))
                throw KeyEmbedException.Input($"--format: '{parse.GetValue(format)}' is not one of table, json");
            string docValue = parse.GetValue(doc)!;
            if (docValue == EmbeddingOptionSet.StandardInput && parse.GetValue(candidates) == EmbeddingOptionSet.StandardInput)
                throw KeyEmbedException.Input("--doc and --candidates cannot both read standard input; give one of them as a file");
            string document = EmbeddingOptionSet.ReadDocument(ctx, docValue, "--doc");
            var (min, max) = EmbeddingOptionSet.ParseRange(parse.GetValue(ngram)!, "--ngram");
            var keywordOptions = new KeywordOptions
            {
                Top = parse.GetValue(top),
                Diversity = parse.GetValue(diversity),
                MinNgram = min,
                MaxNgram = max,
                RemoveStopWords = !parse.GetValue(keepStopWords),
                Candidates = parse.GetValue(candidates) is { } file
                    ? [.. EmbeddingOptionSet.ReadLines(ctx, file, "--candidates").Where(l => !string.IsNullOrWhiteSpace(l))]
                    : null,
            };
            try { keywordOptions.Validate(); }
            catch (KeyEmbedException e) { throw KeyEmbedException.Input(OptionName(e.Message)); }
            var options = shared.EmbeddingOptions(parse);

            using var model = shared.Load(parse);
            var plan = EmbeddingOptionSet.Resolve(model, options);
            if (plan.Pooling == Embedding.PoolingMode.None) throw KeyEmbedException.Input("--pooling none gives token vectors; keywords need one vector per phrase");
            IReadOnlyList<Keyword> keywords = [];
            // A long document has thousands of candidate phrases: show progress once the wait is noticeable.
            int texts = model.KeywordCandidates(document, keywordOptions).Count + 1;
            if (texts > ProgressAbove)
                new ProgressReport(ctx.Error, texts).Run(report => keywords = model.Keywords(document, keywordOptions, options, new CallerThreadProgress(n => report(n))));
            else keywords = model.Keywords(document, keywordOptions, options);
            EmbeddingOptionSet.WarnUnknownTokens(ctx, model, [document]);
            if (outputFormat == "json") WriteJson(ctx.Out, keywords);
            else WriteTable(ctx.Out, keywords);
            return 0;
        }));
        return command;
    }

    /// <summary>Texts (document + candidates) beyond which progress is shown.</summary>
    internal const int ProgressAbove = 500;

    private static string OptionName(string message) =>
        message.StartsWith("top ", StringComparison.Ordinal) ? "--" + message
        : message.StartsWith("diversity ", StringComparison.Ordinal) ? "--" + message
        : message.StartsWith("n-gram ", StringComparison.Ordinal) ? "--ngram: " + message
        : message;

    private static void WriteTable(TextWriter writer, IReadOnlyList<Keyword> keywords)
    {
        if (keywords.Count == 0)
        {
            writer.WriteLine("(no keywords: the document has no candidate phrases)");
            return;
        }
        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumn(new TableColumn("rank").RightAligned());
        table.AddColumn(new TableColumn("keyword"));
        table.AddColumn(new TableColumn("cosine to document").RightAligned());
        for (int i = 0; i < keywords.Count; i++)
            table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), ConsoleOutput.Cell(keywords[i].Text),
                keywords[i].Score.ToString("0.000", CultureInfo.InvariantCulture));
        ConsoleOutput.Write(writer, table);
    }

    private static void WriteJson(TextWriter writer, IReadOnlyList<Keyword> keywords)
    {
        using (var stream = new TextWriterStream(writer))
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartArray("keywords");
            foreach (var k in keywords)
            {
                json.WriteStartObject();
                json.WriteString("keyword", k.Text);
                json.WriteNumber("score", k.Score);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        writer.WriteLine();
    }
}
