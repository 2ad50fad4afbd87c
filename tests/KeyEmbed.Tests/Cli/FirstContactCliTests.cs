using System.Text;
using KeyEmbed.Cli;

namespace KeyEmbed.Tests.Cli;

/// <summary>
/// What a new user meets first, through the CLI's entry point (<see cref="CliApp.Run"/>): every mistake is one
/// <c>error:</c> line with the documented exit code, and nothing is written to standard output before it.
/// </summary>
public sealed class FirstContactCliTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    private static (int Code, string Out, string Error) Run(params string[] args) => RunWithInput(null, args);

    private static (int Code, string Out, string Error) RunWithInput(string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr, stdin is null ? TextReader.Null : new StringReader(stdin));
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static void AssertOneErrorLine(int expectedCode, (int Code, string Out, string Error) run, params string[] mentions)
    {
        Assert.True(expectedCode == run.Code, $"exit {run.Code}, expected {expectedCode}: {run.Error}");
        Assert.StartsWith("error: ", run.Error);
        Assert.Single(run.Error.TrimEnd().Split('\n'));
        Assert.Equal("", run.Out);
        foreach (var mention in mentions) Assert.Contains(mention, run.Error);
    }

    [Fact]
    public void Keywords_with_a_missing_document_file_is_an_error_not_a_one_word_document()
    {
        using var dir = new TempDir();
        AssertOneErrorLine(CliApp.UserError, Run("keywords", "--model", TinyModel, "--doc", dir.File("article.txt")), "--doc", "article.txt", "not found");
        AssertOneErrorLine(CliApp.UserError, Run("keywords", "--model", TinyModel, "--doc", "notes/article"), "not found");
        // A sentence is still a document.
        var (code, output, error) = Run("keywords", "--model", TinyModel, "--doc", "the key words embed a vector", "--top", "2");
        Assert.True(code == 0, error);
        Assert.Contains("key", output);
    }

    [Theory]
    [InlineData("npy")]
    [InlineData("dll")]
    [InlineData("latin1")]
    public void Binary_input_is_refused_by_content_whatever_its_name(string kind)
    {
        using var dir = new TempDir();
        // Named .txt on purpose: the content decides.
        string path = dir.File("input.txt");
        byte[] bytes = kind switch
        {
            "npy" => [0x93, .. "NUMPY"u8, 1, 0, 0x76, 0, .. "{'descr': '<f4'}"u8],
            "dll" => [.. "MZ"u8, 0x90, 0, 3, 0, 0, 0, 4, 0, 0, 0, 0xFF, 0xFF],
            _ => Encoding.Latin1.GetBytes("caf\u00e9 cr\u00e8me\n"),
        };
        File.WriteAllBytes(path, bytes);

        AssertOneErrorLine(CliApp.UserError, Run("embed", "--model", TinyModel, "--input", path), "--input", "not a UTF-8 text file");
        AssertOneErrorLine(CliApp.UserError, Run("similarity", "--model", TinyModel, "--input", path), "--input", "not a UTF-8 text file");
        AssertOneErrorLine(CliApp.UserError, Run("keywords", "--model", TinyModel, "--doc", path), "--doc", "not a UTF-8 text file");
        AssertOneErrorLine(CliApp.UserError, RunWithInput("a\0b\n", "embed", "--model", TinyModel, "--input", "-"), "standard input");
    }

    [Fact]
    public void Utf8_text_with_a_sequence_cut_at_the_sniffed_length_is_still_text()
    {
        using var dir = new TempDir();
        string path = dir.File("long.txt");
        // "é" (2 bytes) straddles the sniffed prefix's end.
        var text = new string('a', KeyEmbed.Cli.Commands.EmbeddingOptionSet.TextSniffBytes - 1) + "é\nthe key words\n";
        File.WriteAllText(path, text);
        KeyEmbed.Cli.Commands.EmbeddingOptionSet.CheckText(path, "--input");
    }

    [Theory]
    [InlineData("json")]
    [InlineData("csv")]
    public void A_model_without_a_tokenizer_fails_before_anything_is_written(string format)
    {
        using var dir = new TempDir();
        foreach (var file in new[] { "config.json", "model.safetensors" }) File.Copy(Path.Combine(TinyModel, file), dir.File(file));

        foreach (var command in new[] { "embed", "similarity" })
        {
            var run = Run(command, "--model", dir.Path, "--format", format, "hello", "world");
            AssertOneErrorLine(CliApp.UserError, run, "vocab.txt");
            // The hint names what works for this command, not an option it rejects.
            Assert.DoesNotContain("--tokenizer", run.Error);
        }
        AssertOneErrorLine(CliApp.UserError, Run("keywords", "--model", dir.Path, "--format", "json", "--doc", "hello world"), "vocab.txt");
        AssertOneErrorLine(CliApp.UserError, Run("embed", "--model", dir.Path, "--pooling", "none", "hello"), "vocab.txt");
    }

    [Fact]
    public void An_unknown_option_among_texts_is_a_parse_error_exit_1()
    {
        AssertOneErrorLine(CliApp.ParseError, Run("similarity", "--model", TinyModel, "--frobnicate", "a", "b"), "--frobnicate");
        AssertOneErrorLine(CliApp.ParseError, Run("embed", "--model", TinyModel, "--frobnicate", "a"), "--frobnicate");
    }

    [Fact]
    public void One_mistake_is_one_line_even_when_the_parser_sees_several_errors()
    {
        using var dir = new TempDir();
        AssertOneErrorLine(CliApp.ParseError, Run("eval", "sts", "--data", dir.File("x.csv"), "--layer", "1"), "--layer");
        AssertOneErrorLine(CliApp.ParseError, Run("tokenize", "--frob", "x", "--bar", "y"), "--frob");
    }

    [Theory]
    [InlineData("cls")]
    [InlineData("first")]
    [InlineData("last")]
    public void Exclude_special_with_a_special_token_pooling_names_the_options_as_typed(string pooling)
    {
        foreach (var command in new[] { "similarity", "embed" })
        {
            var run = Run(command, "--model", TinyModel, "--pooling", pooling, "--exclude-special", "a", "b");
            AssertOneErrorLine(CliApp.UserError, run, "--exclude-special", $"--pooling {pooling}", "mean");
            Assert.DoesNotContain("none", run.Error);
            if (pooling != "first") Assert.DoesNotContain("'first'", run.Error);
        }
    }

    [Fact]
    public void Eval_sts_takes_the_shared_embedding_options()
    {
        using var dir = new TempDir();
        string data = dir.File("sts.csv");
        File.WriteAllLines(data, [
            "main-captions\tMSRvid\t2012test\t0001\t4.500\tthe key word\tthe key words",
            "main-captions\tMSRvid\t2012test\t0002\t1.200\tdeep learning net\tthe fast text",
            "main-captions\tMSRvid\t2012test\t0003\t3.000\ta small model\ta tiny model",
        ]);
        var (code, output, error) = Run("eval", "sts", "--data", data, "--model", TinyModel, "--precision", "float32",
            "--exclude-special", "--max-length", "8", "--threads", "1", "--json");
        Assert.True(code == 0, error);
        Assert.StartsWith("{\"pairs\": 3,", output);
        AssertOneErrorLine(CliApp.UserError, Run("eval", "sts", "--data", data, "--model", TinyModel, "--precision", "int4"), "--precision");
        AssertOneErrorLine(CliApp.UserError, Run("eval", "sts", "--data", data, "--model", TinyModel, "--max-length", "2"), "--max-length");
    }

    [Fact]
    public void The_similarity_table_numbers_texts_as_the_json_index_does()
    {
        string[] texts = ["alpha key", "beta word", "gamma net", "delta text"];
        var (code, table, error) = Run(["similarity", "--model", TinyModel, "--query", "alpha word", "--top", "4", .. texts]);
        Assert.True(code == 0, error);
        var (jsonCode, json, jsonError) = Run(["similarity", "--model", TinyModel, "--query", "alpha word", "--top", "4", "--format", "json", .. texts]);
        Assert.True(jsonCode == 0, jsonError);
        var rows = TableRows(table);
        foreach (var neighbour in System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("neighbours").EnumerateArray())
        {
            var text = neighbour.GetProperty("text").GetString()!;
            Assert.Equal(neighbour.GetProperty("index").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture), rows.Single(r => r[2] == text)[1]);
        }
        // The matrix: row k and column k are text k, the same numbering.
        (code, table, error) = Run(["similarity", "--model", TinyModel, .. texts]);
        Assert.True(code == 0, error);
        rows = TableRows(table);
        for (int k = 0; k < texts.Length; k++) Assert.Equal(k.ToString(System.Globalization.CultureInfo.InvariantCulture), rows.Single(r => r[1] == texts[k])[0]);
    }

    /// <summary>The cells of a Spectre table's rows (a row is a line with │ separators and at least one text cell).</summary>
    private static List<string[]> TableRows(string table) =>
        [.. table.Split('\n').Where(l => l.Contains('│')).Select(l => l.Split('│', StringSplitOptions.TrimEntries)[1..^1])];

    [Fact]
    public void The_footer_says_when_the_model_ran_with_int8_arithmetic()
    {
        var (code, output, error) = Run("similarity", "--model", TinyModel, "--precision", "int8", "alpha key", "beta word");
        Assert.True(code == 0, error);
        Assert.Contains("int8", output.TrimEnd().Split('\n')[^1]);
        (code, output, error) = Run("similarity", "--model", TinyModel, "alpha key", "beta word");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("int8", output);
    }

    [Fact]
    public void Keywords_of_a_long_document_report_progress_on_stderr_and_nothing_else_changes()
    {
        // Distinct made-up words: every 1- and 2-gram is a candidate, well over the progress threshold.
        string document = string.Join(' ', Enumerable.Range(0, 400).Select(i => "w" + i.ToString("x", System.Globalization.CultureInfo.InvariantCulture) + "q"));
        using var model = KeyEmbedModel.Load(TinyModel);
        int texts = model.KeywordCandidates(document).Count + 1;
        Assert.True(texts > KeyEmbed.Cli.Commands.KeywordsCommand.ProgressAbove);

        var (code, output, error) = Run("keywords", "--model", TinyModel, "--doc", document, "--top", "3");
        Assert.True(code == 0, error);
        var progress = error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("progress: ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(progress);
        Assert.Equal($"progress: {texts}/{texts} texts", progress[^1]);
        Assert.DoesNotContain("progress", output);
        // A short document stays quiet.
        (code, _, error) = Run("keywords", "--model", TinyModel, "--doc", "the key words embed a vector", "--top", "2");
        Assert.True(code == 0, error);
        Assert.DoesNotContain("progress", error);
    }

    [Fact]
    public void Long_text_is_windows_by_default_and_truncate_or_error_when_asked()
    {
        string text = string.Join(' ', Enumerable.Range(0, 60).Select(i => "word" + i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        string[] common = ["embed", "--model", TinyModel, "--max-length", "16", "--format", "json"];
        var windows = Run([.. common, text]);
        var explicitWindows = Run([.. common, "--long-text", "windows", text]);
        var truncated = Run([.. common, "--long-text", "truncate", text]);
        Assert.True(windows.Code == 0 && truncated.Code == 0, windows.Error + truncated.Error);
        Assert.Equal(windows.Out, explicitWindows.Out);
        Assert.NotEqual(Vector(windows.Out), Vector(truncated.Out));
        using var model = KeyEmbedModel.Load(TinyModel, new KeyEmbedModelOptions { MaxSequenceLength = 16, UseGraphCache = false });
        var expected = model.Embed([text], new KeyEmbed.Embedding.EmbeddingOptions { LongText = KeyEmbed.Embedding.LongTextMode.Truncate }).Vectors[0];
        Assert.Equal(expected, Vector(truncated.Out), (a, b) => Math.Abs(a - b) < 1e-5f);

        AssertOneErrorLine(CliApp.UserError, Run([.. common, "--long-text", "error", text]), "16", "truncate");
        AssertOneErrorLine(CliApp.UserError, Run([.. common, "--long-text", "fold", text]), "--long-text", "windows");
    }

    private static float[] Vector(string json) =>
        [.. System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle())];
}
