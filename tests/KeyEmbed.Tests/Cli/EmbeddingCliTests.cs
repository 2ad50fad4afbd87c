using System.Text;
using System.Text.Json;
using KeyEmbed.Cli;
using KeyEmbed.Embedding;
using KeyEmbed.Tests.Embedding;

namespace KeyEmbed.Tests.Cli;

/// <summary><c>similarity</c>, <c>embed</c> and <c>keywords</c> run in-process through <see cref="CliApp.Run"/>.</summary>
[Trait("Resource", "built-in model (90 MB graph)")]
public sealed class EmbeddingCliTests
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

    private static void AssertOneErrorLine(int code, string error, params string[] mentions)
    {
        Assert.NotEqual(0, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        foreach (var mention in mentions) Assert.Contains(mention, error);
    }

    [Fact]
    public void Embed_shards_split_the_input_by_position_and_together_give_every_row_once()
    {
        string[] texts = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"];
        string[] Rows(params string[] extra)
        {
            var (code, output, error) = Run(["embed", "--model", TinyModel, "--format", "csv", .. extra, .. texts]);
            Assert.True(code == 0, error);
            return output.TrimEnd().Split('\n')[1..];
        }
        var whole = Rows();
        var shards = Enumerable.Range(0, 3).Select(i => Rows("--shard", $"{i}/3")).ToArray();
        Assert.Equal(texts.Length, shards.Sum(s => s.Length));
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < shards[i].Length; j++)
                Assert.Equal(whole[i + j * 3], shards[i][j]);
        var (badCode, _, badError) = Run("embed", "--model", TinyModel, "--shard", "3/3", "x");
        AssertOneErrorLine(badCode, badError, "--shard", "3/3");
    }

    [Fact]
    public void Similarity_of_three_keywords_prints_an_aligned_table_with_set_columns()
    {
        var (code, output, error) = Run("similarity", "machine learning", "deep learning", "banana bread");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n');
        // Every table line has the same display width, and each text sits on its own row.
        var tableLines = lines.Where(l => l.Length > 0 && "╭│├╰".Contains(l[0])).ToList();
        Assert.Equal(7, tableLines.Count);
        Assert.Single(tableLines.Select(l => l.Length).Distinct());
        Assert.Contains("to set", tableLines[1]);
        Assert.Contains("mean pairwise", tableLines[1]);
        foreach (var (text, row) in new[] { ("machine learning", 3), ("deep learning", 4), ("banana bread", 5) })
            Assert.Contains(text, tableLines[row]);
        Assert.Contains("1.000", tableLines[3]);
        Assert.Contains("minilm", lines[^1]);
        Assert.Equal("", error);
    }

    [Fact]
    public void Similarity_table_aligns_chinese_texts_by_display_width()
    {
        var (code, output, error) = Run("similarity", "人工智能", "机器学习", "香蕉");
        Assert.True(code == 0, error);
        var rows = output.Split('\n').Where(l => l.StartsWith('│')).ToList();
        // Han characters take two columns: the column separators line up when widths are counted that way.
        int Width(string line) => line.Sum(c => c is >= '\u4e00' and <= '\u9fff' ? 2 : 1);
        Assert.Single(rows.Select(Width).Distinct());
    }

    [Fact]
    public void Similarity_json_is_one_object_with_texts_matrix_and_to_set()
    {
        var (code, output, error) = Run("similarity", "--format", "json", "machine learning", "deep learning", "banana bread");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var root = json.RootElement;
        Assert.Equal(["texts", "matrix", "to_set", "mean_pairwise"], root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(["machine learning", "deep learning", "banana bread"], root.GetProperty("texts").EnumerateArray().Select(e => e.GetString()));
        var matrix = root.GetProperty("matrix").EnumerateArray().Select(r => r.EnumerateArray().Select(e => e.GetSingle()).ToArray()).ToArray();
        Assert.Equal(3, matrix.Length);
        Assert.All(matrix, r => Assert.Equal(3, r.Length));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(1f, matrix[i][i]);
            for (int j = 0; j < 3; j++) Assert.Equal(matrix[i][j], matrix[j][i]);
        }
        Assert.True(matrix[0][1] > matrix[0][2], "machine learning is closer to deep learning than to banana bread");
        // to_set is the cosine to the mean vector: recompute it from the library's vectors.
        var vectors = SharedModels.MiniLm.Embed(["machine learning", "deep learning", "banana bread"]).Vectors;
        var mean = VectorMath.Mean(vectors);
        var toSet = root.GetProperty("to_set").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        for (int i = 0; i < 3; i++) Assert.Equal(VectorMath.Cosine(vectors[i], mean), toSet[i], 4);
    }

    [Fact]
    public void Similarity_with_a_query_ranks_the_texts()
    {
        var (code, output, error) = Run("similarity", "--format", "json", "--query", "neural networks", "--top", "2",
            "banana bread", "deep learning", "apple pie", "machine learning");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var neighbours = json.RootElement.GetProperty("neighbours").EnumerateArray().ToList();
        Assert.Equal(2, neighbours.Count);
        Assert.Equal(["deep learning", "machine learning"], neighbours.Select(n => n.GetProperty("text").GetString()).Order());
        Assert.True(neighbours[0].GetProperty("similarity").GetSingle() >= neighbours[1].GetProperty("similarity").GetSingle());

        var (tableCode, table, _) = Run("similarity", "--query", "neural networks", "banana bread", "deep learning");
        Assert.Equal(0, tableCode);
        Assert.Contains("nearest to: neural networks", table);
    }

    [Fact]
    public void Similarity_csv_and_an_input_file_add_texts_after_the_arguments()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("words.txt"), "deep learning\nbanana bread\n");
        var (code, output, error) = Run("similarity", "--format", "csv", "--input", dir.File("words.txt"), "machine learning");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal("text,machine learning,deep learning,banana bread,to_set,mean_pairwise", lines[0]);
        Assert.Equal(4, lines.Length);
    }

    [Theory]
    [InlineData("--layers", "99", "--layers", "-7..6")]
    [InlineData("--pooling", "foo", "--pooling", "mean, max, mean-max, first, last, cls, none")]
    [InlineData("--layer-mode", "stack", "--layer-mode", "sum, mean, concat")]
    [InlineData("--dimensions", "1000", "--dimensions", "between 1 and 384")]
    [InlineData("--format", "xml", "--format", "table, json, csv")]
    [InlineData("--layers", "-1,x", "--layers", "'x' is not an integer")]
    [InlineData("--top", "0", "--top", "at least 1")]
    public void Bad_similarity_options_give_one_error_line_and_a_non_zero_exit(string option, string value, string named, string detail)
    {
        var (code, output, error) = Run("similarity", option, value, "a", "b");
        AssertOneErrorLine(code, error, named, detail);
        Assert.Equal("", output);
    }

    [Fact]
    public void Help_names_the_installed_command_and_no_arguments_show_it()
    {
        var (code, output, error) = Run("--help");
        Assert.Equal(0, code);
        Assert.Contains("keyembed [command] [options]", output);
        Assert.DoesNotContain("KeyEmbed.Cli", output);
        (code, output, _) = Run("embed", "--help");
        Assert.Contains("keyembed embed", output);

        (code, output, error) = Run();
        Assert.Equal(CliApp.ParseError, code);
        Assert.Contains("keyembed [command] [options]", output);
        Assert.Contains("similarity", output);
        Assert.Equal("", error);
    }

    [Fact]
    public void Parse_errors_and_unknown_options_are_one_line_too()
    {
        var (code, _, error) = Run("similarity", "--dimensions", "abc", "a");
        AssertOneErrorLine(code, error, "--dimensions", "as an integer");
        Assert.Equal(CliApp.ParseError, code);

        (code, _, error) = Run("similarity", "--bogus", "a");
        AssertOneErrorLine(code, error, "--bogus");
        // After --, anything is a text.
        (code, var output, error) = Run("similarity", "--format", "json", "--", "--bogus", "a");
        Assert.True(code == 0, error);
        Assert.Contains("\"--bogus\"", output);
    }

    [Fact]
    public void An_empty_input_gives_an_empty_result_and_exit_code_zero()
    {
        var (code, output, error) = Run("similarity", "--format", "json");
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
        {
            Assert.Equal(0, json.RootElement.GetProperty("texts").GetArrayLength());
            Assert.Equal(0, json.RootElement.GetProperty("matrix").GetArrayLength());
            Assert.Equal(0, json.RootElement.GetProperty("to_set").GetArrayLength());
        }
        (code, output, _) = Run("similarity");
        Assert.Equal(0, code);
        Assert.Contains("no texts", output);

        using var dir = new TempDir();
        File.WriteAllText(dir.File("empty.txt"), "");
        (code, _, error) = Run("embed", "--input", dir.File("empty.txt"), "--format", "npy", "--output", dir.File("empty.npy"));
        Assert.True(code == 0, error);
        var npy = NpyFile.Read(dir.File("empty.npy"));
        Assert.Equal([0L, 384L], npy.Shape);
    }

    [Fact]
    public void Empty_strings_among_inputs_are_embedded_as_texts_so_rows_align_with_lines()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("lines.txt"), "deep learning\n\nbanana bread\n");
        var (code, output, error) = Run("embed", "--input", dir.File("lines.txt"), "--format", "json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var rows = json.RootElement.GetProperty("data").EnumerateArray().ToList();
        Assert.Equal(["deep learning", "", "banana bread"], rows.Select(r => r.GetProperty("text").GetString()));
        Assert.Equal([0, 1, 2], rows.Select(r => r.GetProperty("index").GetInt32()));
        Assert.All(rows, r => Assert.Equal(384, r.GetProperty("embedding").GetArrayLength()));
        // A short input shows no progress.
        Assert.DoesNotContain("progress", error);
        Assert.Equal("mean", json.RootElement.GetProperty("pooling").GetString());
    }

    [Fact]
    public void Duplicate_keywords_get_identical_rows_and_similarity_one()
    {
        var (code, output, error) = Run("similarity", "--format", "json", "banana bread", "deep learning", "banana bread");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var matrix = json.RootElement.GetProperty("matrix");
        Assert.Equal(1f, matrix[0][2].GetSingle());
        Assert.Equal(1f, matrix[2][0].GetSingle());

        (code, output, error) = Run("embed", "--format", "csv", "banana bread", "banana bread");
        Assert.True(code == 0, error);
        var lines = output.TrimEnd().Split('\n');
        Assert.Equal(lines[1], lines[2]);
    }

    [Fact]
    public void Embed_options_reach_the_vectors_json_csv_and_npy_agree()
    {
        using var dir = new TempDir();
        string[] options = ["--layers", "-2,-1", "--layer-mode", "concat", "--pooling", "mean", "--dimensions", "16"];
        var (code, output, error) = Run(["embed", .. options, "--format", "json", "some text", "other words"]);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        Assert.Equal([5, 6], json.RootElement.GetProperty("hidden_states").EnumerateArray().Select(e => e.GetInt32()));
        var fromJson = json.RootElement.GetProperty("data").EnumerateArray()
            .Select(r => r.GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray()).ToArray();
        var expected = SharedModels.MiniLm.Embed(["some text", "other words"],
            new EmbeddingOptions { Layers = [-2, -1], LayerMode = LayerMode.Concat, Dimensions = 16 }).Vectors;
        for (int i = 0; i < 2; i++) Assert.True(VectorMath.Cosine(expected[i], fromJson[i]) > 0.99999);

        (code, _, error) = Run(["embed", .. options, "--format", "npy", "--output", dir.File("v.npy"), "some text", "other words"]);
        Assert.True(code == 0, error);
        var npy = NpyFile.Read(dir.File("v.npy"));
        Assert.Equal([2L, 16L], npy.Shape);
        for (int i = 0; i < 2; i++) Assert.Equal(fromJson[i], npy.Data.AsSpan(i * 16, 16).ToArray());

        (code, output, error) = Run(["embed", .. options, "--format", "csv", "some text", "other words"]);
        Assert.True(code == 0, error);
        var csv = output.TrimEnd().Split('\n');
        Assert.Equal(17, csv[0].Split(',').Length);
        Assert.Equal(fromJson[1][15], float.Parse(csv[2].Split(',')[^1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Embed_quantizes_to_int8_with_a_scales_file_and_to_packed_bits()
    {
        using var dir = new TempDir();
        var (code, _, error) = Run("embed", "--quantize", "int8", "--format", "npy", "--output", dir.File("q.npy"), "deep learning", "banana bread");
        Assert.True(code == 0, error);
        var bytes = NpyFile.Read(dir.File("q.npy"));
        var scales = NpyFile.Read(dir.File("q.scales.npy"));
        var vectors = SharedModels.MiniLm.Embed(["deep learning", "banana bread"]).Vectors;
        for (int row = 0; row < 2; row++)
            for (int d = 0; d < 384; d++)
                Assert.True(Math.Abs(bytes.Data[row * 384 + d] * scales.Data[row] - vectors[row][d]) <= scales.Data[row] / 2 + 1e-6);

        (code, var output, error) = Run("embed", "--quantize", "binary", "--format", "json", "deep learning");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var packed = json.RootElement.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => (byte)e.GetInt32()).ToArray();
        Assert.Equal(48, packed.Length);
        Assert.Equal(Quantization.ToBinary(vectors[0]), packed);

        (code, _, error) = Run("embed", "--quantize", "int4", "x");
        AssertOneErrorLine(code, error, "--quantize", "float32, int8, binary");
    }

    [Fact]
    public void Npy_needs_an_output_file_and_pooling_none_gives_token_json()
    {
        var (code, _, error) = Run("embed", "--format", "npy", "x");
        AssertOneErrorLine(code, error, "--output");
        (code, _, error) = Run("embed", "--format", "npy", "--output", "/no/such/folder/v.npy", "x");
        AssertOneErrorLine(code, error, "--output", "/no/such/folder/v.npy");
        (code, _, error) = Run("embed", "--input", "/no/such/file.txt");
        AssertOneErrorLine(code, error, "--input", "/no/such/file.txt");

        (code, var output, error) = Run("embed", "--pooling", "none", "A man is playing a guitar.");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var tokens = json.RootElement.GetProperty("data")[0].GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal("[CLS]", tokens[0].GetProperty("token").GetString());
        var guitar = tokens.Single(t => t.GetProperty("token").GetString() == "guitar");
        Assert.Equal("A man is playing a guitar.".IndexOf("guitar", StringComparison.Ordinal), guitar.GetProperty("start").GetInt32());
        Assert.Equal(384, guitar.GetProperty("embedding").GetArrayLength());
    }

    [Fact]
    public void A_text_longer_than_the_window_is_embedded_by_windows_with_a_note()
    {
        string longText = string.Join(' ', Enumerable.Repeat("keyword embeddings compare phrases", 10));
        var (code, output, error) = Run("embed", "--max-length", "16", "--format", "csv", longText, "short");
        Assert.True(code == 0, error);
        Assert.Contains("note: 1 text was longer than the model's 16-token window", error);
        Assert.Equal(3, output.TrimEnd().Split('\n').Length);
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void One_hundred_thousand_keywords_stream_from_a_file_to_npy_with_progress_lines()
    {
        // The tiny random BERT of golden/bert-tiny-random keeps this about streaming, chunking and progress, not model speed.
        using var dir = new TempDir();
        var vocabulary = File.ReadAllLines(Path.Combine(TinyModel, "vocab.txt")).Where(w => !w.StartsWith('[') && !w.StartsWith("##")).ToArray();
        var random = new Random(7);
        using (var writer = new StreamWriter(dir.File("keywords.txt"), false, new UTF8Encoding(false)))
            for (int i = 0; i < 100_000; i++)
                writer.WriteLine(string.Join(' ', Enumerable.Range(0, 1 + random.Next(3)).Select(_ => vocabulary[random.Next(vocabulary.Length)])));

        var (code, _, error) = Run("embed", "--model", TinyModel, "--input", dir.File("keywords.txt"), "--format", "npy", "--output", dir.File("keywords.npy"));
        Assert.True(code == 0, error);
        var progress = error.Split('\n').Where(l => l.StartsWith("progress: ")).ToList();
        Assert.True(progress.Count >= 100_000 / EmbedCommandChunk, string.Join('\n', progress.Take(5)));
        Assert.Equal("progress: 100000/100000 texts", progress[^1]);
        var npy = NpyFile.Read(dir.File("keywords.npy"));
        Assert.Equal(100_000, npy.Shape[0]);
        int width = (int)npy.Shape[1];
        // Spot-check rows against the library, including the last.
        var lines = File.ReadAllLines(dir.File("keywords.txt"));
        foreach (int row in new[] { 0, 4_095, 4_096, 99_999 })
        {
            var expected = SharedModels.Tiny.Embed([lines[row]]).Vectors[0];
            Assert.True(VectorMath.Cosine(expected, npy.Data.AsSpan(row * width, width)) > 0.99999, $"row {row}");
        }
    }

    private const int EmbedCommandChunk = 4096;

    [Fact]
    public void A_dash_reads_the_texts_from_standard_input()
    {
        // embed: rows align with the lines read, empty lines included, after the TEXT arguments.
        var (code, output, error) = RunWithInput("deep learning\n\nbanana bread\n", "embed", "--input", "-", "--format", "json", "first");
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
            Assert.Equal(["first", "deep learning", "", "banana bread"],
                json.RootElement.GetProperty("data").EnumerateArray().Select(r => r.GetProperty("text").GetString()));
        var (fileCode, fromArguments, _) = Run("embed", "--format", "csv", "banana bread");
        (code, output, error) = RunWithInput("banana bread", "embed", "--input", "-", "--format", "csv");
        Assert.True(code == 0 && fileCode == 0, error);
        Assert.Equal(fromArguments, output);

        // similarity: the lines are texts of the matrix.
        (code, output, error) = RunWithInput("deep learning\nbanana bread", "similarity", "--format", "json", "--input", "-", "machine learning");
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
            Assert.Equal(["machine learning", "deep learning", "banana bread"], json.RootElement.GetProperty("texts").EnumerateArray().Select(t => t.GetString()));

        // keywords: the document, or the candidates, but not both from one stream.
        (code, output, error) = RunWithInput("Deep neural networks learn from labelled training data.", "keywords", "--doc", "-", "--top", "1", "--format", "json");
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
            Assert.Contains(json.RootElement.GetProperty("keywords")[0].GetProperty("keyword").GetString()!, "deep neural networks learn from labelled training data");
        (code, output, error) = RunWithInput("banana bread\nmachine learning\n", "keywords", "--doc", "Supervised learning of neural networks.", "--candidates", "-", "--top", "1");
        Assert.True(code == 0, error);
        Assert.Contains("machine learning", output);
        (code, _, error) = RunWithInput("x", "keywords", "--doc", "-", "--candidates", "-");
        AssertOneErrorLine(code, error, "standard input");

        // A missing file says how to read standard input.
        (code, _, error) = Run("embed", "--input", "/no/such/lines.txt");
        AssertOneErrorLine(code, error, "/no/such/lines.txt", "give - to read standard input");
    }

    [Fact]
    public void Keywords_ranks_document_phrases_and_takes_candidates_from_a_file()
    {
        const string document = "Supervised learning algorithms build a mathematical model from labelled training data. " +
            "Deep neural networks are one family of such algorithms; gradient boosting is another.";
        var (code, output, error) = Run("keywords", "--doc", document, "--top", "3", "--format", "json");
        Assert.True(code == 0, error);
        using (var json = JsonDocument.Parse(output))
        {
            var keywords = json.RootElement.GetProperty("keywords").EnumerateArray().ToList();
            Assert.Equal(3, keywords.Count);
            var scores = keywords.Select(k => k.GetProperty("score").GetSingle()).ToList();
            Assert.Equal(scores.OrderDescending(), scores);
            Assert.All(keywords, k => Assert.Contains(k.GetProperty("keyword").GetString()!, document.ToLowerInvariant()));
        }

        using var dir = new TempDir();
        File.WriteAllText(dir.File("doc.txt"), document);
        File.WriteAllText(dir.File("candidates.txt"), "banana bread\nmachine learning\n\ncooking\n");
        (code, output, error) = Run("keywords", "--doc", dir.File("doc.txt"), "--candidates", dir.File("candidates.txt"), "--top", "1");
        Assert.True(code == 0, error);
        Assert.Contains("machine learning", output);
        Assert.DoesNotContain("banana", output);

        (code, _, error) = Run("keywords", "--doc", document, "--diversity", "2");
        AssertOneErrorLine(code, error, "--diversity");
        (code, _, error) = Run("keywords", "--doc", document, "--ngram", "1,9");
        AssertOneErrorLine(code, error, "--ngram");
    }

    [Fact]
    public void Keywords_of_chinese_text_come_from_jieba_words()
    {
        var (code, output, error) = Run("keywords", "--doc", "人工智能是计算机科学的一个分支，机器学习是人工智能的核心。", "--format", "json");
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(output);
        var words = json.RootElement.GetProperty("keywords").EnumerateArray().Select(k => k.GetProperty("keyword").GetString()).ToList();
        Assert.Contains("人工智能", words);
    }
}
