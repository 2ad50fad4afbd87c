using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;
using KeyEmbed.IO;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed eval sts --data FILE</c>: Spearman and Pearson correlation (× 100) between cosine similarities and the
/// human scores of an STS Benchmark file; <c>--json</c> prints exactly <c>{"pairs": N, "spearman": S, "pearson": P}</c>
/// (keep that contract). <c>keyembed eval sweep --data FILE</c>: every layer choice × pooling from one model run per
/// batch, written as Markdown, CSV and a PNG chart (docs/evaluation.md).
/// </summary>
internal static class EvalCommand
{
    private const string DefaultSweepFolder = "sweep";

    public static Command Create(CliContext ctx)
    {
        var command = new Command("eval", "Measure embeddings against human similarity judgements (STS Benchmark).");
        command.Subcommands.Add(CreateSts(ctx));
        command.Subcommands.Add(CreateSweep(ctx));
        return command;
    }

    private static Option<string> DataOption() =>
        new("--data") { Description = "STS Benchmark file (tab-separated: genre, file, year, id, score 0-5, sentence 1, sentence 2), e.g. ../shared/data/stsbenchmark/sts-test.csv.", Required = true };

    private static Option<string> ModelOption() =>
        new("--model") { Description = "Model folder, .onnx file or built-in name (default: minilm)." };

    private static Command CreateSts(CliContext ctx)
    {
        var data = DataOption();
        // The embedding options of similarity / embed / keywords (model, layers, pooling, precision, threads, ...), spelled and checked the same way.
        var shared = new EmbeddingOptionSet();
        var json = new Option<bool>("--json") { Description = "Print {\"pairs\": N, \"spearman\": S, \"pearson\": P} with S and P × 100." };
        var command = new Command("sts", "Spearman and Pearson correlation (× 100) of cosine similarities with an STS file's human scores.");
        command.Options.Add(data);
        shared.AddTo(command);
        command.Options.Add(json);
        command.SetAction(parseResult => CliApp.Guard(ctx, () =>
        {
            var pairs = StsBenchmark.Read(parseResult.GetValue(data)!);
            var options = shared.EmbeddingOptions(parseResult);
            using var loaded = shared.Load(parseResult);
            var plan = EmbeddingOptionSet.Resolve(loaded, options);
            if (plan.Pooling == PoolingMode.None) throw KeyEmbedException.Input("--pooling none gives token vectors; eval sts compares one vector per sentence");
            var progress = new ProgressLines(ctx.Error, "sentences");
            var clock = Stopwatch.StartNew();
            var result = StsBenchmark.Evaluate(pairs, texts =>
            {
                progress.Start(texts.Count);
                return loaded.Embed(texts, options, progress).Vectors;
            });
            progress.Finish(clock.Elapsed);

            var o = ctx.Out;
            if (parseResult.GetValue(json))
            {
                o.WriteLine($"{{\"pairs\": {result.Pairs}, \"spearman\": {JsonNumber(result.Spearman * 100)}, \"pearson\": {JsonNumber(result.Pearson * 100)}}}");
                return 0;
            }
            o.WriteLine($"model: {loaded.Info.Name} ({loaded.Info.Architecture}, {loaded.Info.Layers} layers)");
            o.WriteLine($"data: {parseResult.GetValue(data)}");
            o.WriteLine($"options: {Describe(plan)}{(loaded.ComputePrecision == Architectures.ComputePrecision.Int8 ? ", int8 arithmetic" : "")}");
            o.WriteLine($"pairs: {result.Pairs}");
            o.WriteLine($"spearman: {Percent(result.Spearman)}");
            o.WriteLine($"pearson: {Percent(result.Pearson)}");
            return 0;
        }));
        return command;
    }

    private static Command CreateSweep(CliContext ctx)
    {
        var data = DataOption();
        var model = ModelOption();
        var poolings = new Option<string>("--poolings") { Description = "Comma-separated poolings to compare (default: mean,max,cls,mean-max; cls = [CLS] for BERT, the final <cls> for XLNet)." };
        var output = new Option<string>("--output") { Description = $"Folder for sweep.md, sweep.csv and sweep.png (default: ./{DefaultSweepFolder})." };
        var title = new Option<string>("--title") { Description = "Title of the table and chart (default: model and data file)." };
        var command = new Command("sweep", "Spearman of every layer (and first+last, last two summed / concatenated) with each pooling: Markdown, CSV and a PNG chart.");
        foreach (var option in new Option[] { data, model, poolings, output, title }) command.Options.Add(option);
        command.SetAction(parseResult => CliApp.Guard(ctx, () =>
        {
            string dataPath = parseResult.GetValue(data)!;
            var pairs = StsBenchmark.Read(dataPath);
            var poolingModes = parseResult.GetValue(poolings) is { } p ? LayerSweep.ParsePoolings(p) : LayerSweep.DefaultPoolings;
            string folder = parseResult.GetValue(output) ?? DefaultSweepFolder;
            using var loaded = KeyEmbedModel.Load(parseResult.GetValue(model));
            var configurations = LayerSweep.Configurations(loaded.Info.Layers, poolingModes);

            var progress = new ProgressLines(ctx.Error, $"sentences ({configurations.Count} configurations, one model run)");
            var clock = Stopwatch.StartNew();
            var results = StsBenchmark.EvaluateMany(pairs, texts =>
            {
                progress.Start(texts.Count);
                return loaded.EmbedUnderEach(texts, [.. configurations.Select(c => c.Options)], progress);
            });
            progress.Finish(clock.Elapsed);

            string reportTitle = parseResult.GetValue(title) ?? $"{loaded.Info.Name}: STS Spearman × 100 on {Path.GetFileName(dataPath)}";
            var report = new SweepReport(reportTitle,
                configurations.Select((c, i) => new SweepEntry(c.Layers, c.Pooling, results[i].Spearman)));
            Write(folder, report, pairs.Count);
            var o = ctx.Out;
            o.WriteLine(reportTitle);
            o.WriteLine();
            o.Write(report.ToMarkdown());
            o.WriteLine();
            if (report.Best is { } best) o.WriteLine($"best: layers {best.Layers}, pooling {best.Pooling}: {Percent(best.Spearman)}");
            o.WriteLine($"wrote {Path.Combine(folder, "sweep.md")}, sweep.csv, sweep.png");
            return 0;
        }));
        return command;
    }

    private static void Write(string folder, SweepReport report, int pairCount)
    {
        try
        {
            Directory.CreateDirectory(folder);
            var markdown = new StringBuilder()
                .Append("# ").AppendLine(report.Title).AppendLine()
                .AppendLine($"Spearman correlation × 100 between cosine similarity and the human scores, {pairCount.ToString(CultureInfo.InvariantCulture)} pairs; best in bold.")
                .AppendLine("Layer labels are hidden-state numbers: `k` = `--layers k`, `a,b sum` = `--layers a,b --layer-mode sum`.")
                .AppendLine()
                .Append(report.ToMarkdown());
            AtomicFile.WriteAllText(Path.Combine(folder, "sweep.md"), markdown.ToString(), $"{folder}: cannot write the sweep report");
            AtomicFile.WriteAllText(Path.Combine(folder, "sweep.csv"), report.ToCsv(), $"{folder}: cannot write the sweep report");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new KeyEmbedException(ErrorKind.InvalidInput, $"{folder}: cannot write the sweep report: {e.Message}", e);
        }
        report.WriteChart(Path.Combine(folder, "sweep.png"));
    }

    private static string Describe(ResolvedEmbeddingOptions plan)
    {
        string layers = string.Join(",", plan.Layers);
        if (plan.Layers.Count > 1) layers += $" ({plan.LayerMode.ToString().ToLowerInvariant()})";
        return $"layers {layers}, pooling {EmbeddingOptions.FormatPooling(plan.Pooling)}, {(plan.Normalize ? "normalized" : "not normalized")}, {plan.Dimensions} dimensions";
    }

    private static string Percent(double coefficient) =>
        double.IsNaN(coefficient) ? "n/a" : (coefficient * 100).ToString("F2", CultureInfo.InvariantCulture);

    // Shortest round-trip form, so a reader gets exactly the computed value; undefined (constant side) is null.
    private static string JsonNumber(double value) =>
        double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null";

    /// <summary>
    /// Progress on stderr: one line rewritten in place on a terminal, otherwise a plain line about every tenth of the
    /// work, so a redirected log stays readable.
    /// </summary>
    private sealed class ProgressLines(TextWriter writer, string unit) : IProgress<int>
    {
        private readonly bool _interactive = ReferenceEquals(writer, Console.Error) && !Console.IsErrorRedirected;
        private int _total;
        private int _nextReport;
        private int _lineLength;

        public void Start(int total)
        {
            _total = total;
            _nextReport = 0;
        }

        public void Report(int done)
        {
            if (_total == 0) return;
            if (_interactive)
            {
                string line = $"embedding: {done}/{_total} {unit}";
                writer.Write("\r" + line);
                _lineLength = line.Length;
                return;
            }
            if (done < _nextReport || done >= _total) return;
            writer.WriteLine($"embedding: {done}/{_total} {unit}");
            _nextReport = done + Math.Max(1, _total / 10);
        }

        public void Finish(TimeSpan elapsed)
        {
            if (_interactive) writer.Write("\r" + new string(' ', _lineLength) + "\r");
            writer.WriteLine($"embedded {_total} {unit} in {elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s");
        }
    }
}
