using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using KeyEmbed.Cli;
using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Cli;

public sealed class EvalCommandTests
{
    // Sentences in the tiny random model's vocabulary; scores chosen by hand, with one tie.
    private static readonly (string First, string Second, double Score)[] TinyPairs =
    [
        ("the key word", "the key words", 4.5),
        ("a small model", "a tiny model", 3.8),
        ("deep learning net", "the fast text", 1.2),
        ("bert embed words", "cos mean layer", 0.4),
        ("the big vector", "a big vector", 4.0),
        ("good test", "small network", 1.2),
        ("it is fast", "it is good", 2.6),
    ];

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string WriteTinyStsFile(TempDir dir)
    {
        string path = dir.File("tiny-sts.csv");
        File.WriteAllLines(path, TinyPairs.Select((p, i) =>
            string.Join('\t', "main-captions", "MSRvid", "2012test", (i + 1).ToString("D4", CultureInfo.InvariantCulture),
                p.Score.ToString("F3", CultureInfo.InvariantCulture), p.First, p.Second)));
        return path;
    }

    private static string TinyModel => SharedData.Golden("bert-tiny-random");

    // What eval sts must report: the correlations of the model's own vectors, computed here without the command.
    private static (double Spearman, double Pearson) Expected(EmbeddingOptions options)
    {
        using var model = KeyEmbedModel.Load(TinyModel);
        var cosines = new List<double>();
        foreach (var (first, second, _) in TinyPairs)
        {
            var vectors = model.Embed([first, second], options).Vectors;
            cosines.Add(StsBenchmark.Cosine(vectors[0], vectors[1]));
        }
        var scores = TinyPairs.Select(p => p.Score).ToArray();
        return (Correlation.Spearman(cosines, scores) * 100, Correlation.Pearson(cosines, scores) * 100);
    }

    private static JsonElement ParseContract(string stdout)
    {
        string line = stdout.TrimEnd('\n', '\r');
        Assert.DoesNotContain('\n', line);
        Assert.Matches(new Regex("^\\{\"pairs\": \\d+, \"spearman\": [-0-9.Ee+]+, \"pearson\": [-0-9.Ee+]+\\}$"), line);
        var root = JsonDocument.Parse(line).RootElement;
        Assert.Equal(["pairs", "spearman", "pearson"], root.EnumerateObject().Select(p => p.Name));
        return root;
    }

    [Fact]
    public void Eval_sts_json_is_the_contract_with_the_correlations_of_the_model_vectors()
    {
        using var dir = new TempDir();
        var (code, output, error) = Run("eval", "sts", "--data", WriteTinyStsFile(dir), "--model", TinyModel, "--json");
        Assert.True(code == 0, error);
        var root = ParseContract(output);
        var (spearman, pearson) = Expected(EmbeddingOptions.Default);
        Assert.Equal(TinyPairs.Length, root.GetProperty("pairs").GetInt32());
        Assert.Equal(spearman, root.GetProperty("spearman").GetDouble(), 9);
        Assert.Equal(pearson, root.GetProperty("pearson").GetDouble(), 9);
    }

    [Fact]
    public void Eval_sts_passes_layers_layer_mode_and_pooling_to_the_model()
    {
        using var dir = new TempDir();
        var (code, output, error) = Run("eval", "sts", "--data", WriteTinyStsFile(dir), "--model", TinyModel, "--json",
            "--layers", "0,-1", "--layer-mode", "concat", "--pooling", "max");
        Assert.True(code == 0, error);
        var root = ParseContract(output);
        var (spearman, pearson) = Expected(new EmbeddingOptions { Layers = [0, -1], LayerMode = LayerMode.Concat, Pooling = PoolingMode.Max });
        var (defaultSpearman, _) = Expected(EmbeddingOptions.Default);
        Assert.NotEqual(defaultSpearman, spearman, 6); // otherwise this test could not tell the options were ignored
        Assert.Equal(spearman, root.GetProperty("spearman").GetDouble(), 9);
        Assert.Equal(pearson, root.GetProperty("pearson").GetDouble(), 9);
    }

    [Fact]
    public void Eval_sts_text_output_names_the_options_and_both_correlations()
    {
        using var dir = new TempDir();
        var (code, output, error) = Run("eval", "sts", "--data", WriteTinyStsFile(dir), "--model", TinyModel, "--pooling", "cls");
        Assert.True(code == 0, error);
        var (spearman, pearson) = Expected(new EmbeddingOptions { Pooling = PoolingMode.Cls });
        Assert.Contains("options: layers 2, pooling first, not normalized", output);
        Assert.Contains($"pairs: {TinyPairs.Length}", output);
        Assert.Contains("spearman: " + spearman.ToString("F2", CultureInfo.InvariantCulture), output);
        Assert.Contains("pearson: " + pearson.ToString("F2", CultureInfo.InvariantCulture), output);
        Assert.Contains("embedded 14 sentences in", error); // progress and timing go to stderr
    }

    [Fact]
    public void Constant_cosines_give_an_undefined_correlation_printed_as_null_and_n_a()
    {
        // At hidden state 0 the first token is [CLS] at position 0 for every text: one vector, cosine 1 for every pair.
        using var dir = new TempDir();
        string data = WriteTinyStsFile(dir);
        var (code, output, error) = Run("eval", "sts", "--data", data, "--model", TinyModel, "--layers", "0", "--pooling", "cls", "--json");
        Assert.True(code == 0, error);
        Assert.Equal($"{{\"pairs\": {TinyPairs.Length}, \"spearman\": null, \"pearson\": null}}", output.TrimEnd());
        (code, output, error) = Run("eval", "sts", "--data", data, "--model", TinyModel, "--layers", "0", "--pooling", "cls");
        Assert.True(code == 0, error);
        Assert.Contains("spearman: n/a", output);
    }

    [Fact]
    public void Eval_sweep_writes_table_csv_and_chart_with_a_row_per_layer_choice_and_pooling()
    {
        using var dir = new TempDir();
        string output = Path.Combine(dir.Path, "out");
        var (code, stdout, error) = Run("eval", "sweep", "--data", WriteTinyStsFile(dir), "--model", TinyModel,
            "--poolings", "mean,max,cls", "--output", output, "--title", "tiny sweep");
        Assert.True(code == 0, error);

        // 3 layers: hidden states 0..3, then 1,3 sum, 2,3 sum, 2,3 concat = 7 layer choices, times 3 poolings.
        string[] layers = ["0", "1", "2", "3", "1,3 sum", "2,3 sum", "2,3 concat"];
        var csv = File.ReadAllLines(Path.Combine(output, "sweep.csv"));
        Assert.Equal("layers,pooling,spearman", csv[0]);
        Assert.Equal(layers.Length * 3, csv.Length - 1);
        string markdown = File.ReadAllText(Path.Combine(output, "sweep.md"));
        Assert.StartsWith("# tiny sweep", markdown);
        var tableRows = markdown.Split('\n').Where(l => l.StartsWith("| ", StringComparison.Ordinal)).ToList();
        Assert.Equal("| layers | mean | max | cls |", tableRows[0]);
        Assert.Equal(layers, tableRows.Skip(2).Select(r => r.Split('|')[1].Trim()));
        var png = File.ReadAllBytes(Path.Combine(output, "sweep.png"));
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Contains("| layers | mean | max | cls |", stdout);
        Assert.Contains("best: layers ", stdout);

        // One model run for all configurations gives what a single-configuration run gives.
        var (spearman, _) = Expected(new EmbeddingOptions { Layers = [2, 3], LayerMode = LayerMode.Concat, Pooling = PoolingMode.Max });
        string row = csv.Single(l => l.StartsWith("\"2,3 concat\",max,", StringComparison.Ordinal));
        Assert.Equal(spearman / 100, double.Parse(row.Split(',')[^1], CultureInfo.InvariantCulture), 5);
    }

    [Fact]
    public void Malformed_data_is_one_error_line_naming_file_and_line()
    {
        using var dir = new TempDir();
        string path = dir.File("bad.csv");
        File.WriteAllLines(path, ["main-news\tfile\t2012\t1\t2.5\tone sentence\tanother", "main-news\tfile\t2012\t2\tfive\ta\tb"]);
        foreach (var command in new[] { "sts", "sweep" })
        {
            string[] args = ["eval", command, "--data", path, "--model", TinyModel];
            var (code, output, error) = Run(command == "sweep" ? [.. args, "--output", dir.File("out")] : args);
            Assert.Equal(CliApp.UserError, code);
            Assert.Equal("", output);
            Assert.StartsWith("error: ", error);
            Assert.Contains(path, error);
            Assert.Contains("line 2", error);
            Assert.Single(error.Trim().Split('\n'));
        }
        Assert.False(Directory.Exists(dir.File("out")));
    }

    [Fact]
    public void Sweep_without_vectors_per_text_is_refused()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("eval", "sweep", "--data", WriteTinyStsFile(dir), "--model", TinyModel, "--poolings", "mean,none",
            "--output", dir.File("out"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("none", error);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    [Trait("Category", "Slow")]
    [Trait("Resource", "built-in model (90 MB graph)")]
    public void Built_in_model_reaches_the_published_spearman_on_the_sts_test_split()
    {
        // MTEB results for sentence-transformers/all-MiniLM-L6-v2, STSBenchmark test, cosine Spearman: 82.03.
        var (code, output, error) = Run("eval", "sts", "--data", SharedData.Data("stsbenchmark", "sts-test.csv"), "--json");
        Assert.True(code == 0, error);
        var root = ParseContract(output);
        Assert.Equal(1379, root.GetProperty("pairs").GetInt32());
        Assert.InRange(root.GetProperty("spearman").GetDouble(), 82.03 - 0.5, 82.03 + 0.5);
    }
}
