using System.Text.Json;
using KeyEmbed.Cli;

namespace KeyEmbed.Tests.Tokenization;

public sealed class TokenizeCommandTests
{
    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CliApp.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("bert_uncased.jsonl", null)]
    [InlineData("bert_chinese.jsonl", "bert-chinese-vocab/vocab.txt")]
    [InlineData("xlnet_spiece.jsonl", "xlnet-spiece/spiece.model")]
    public void Input_jsonl_reproduces_every_golden_row(string golden, string? model)
    {
        using var dir = new TempDir();
        string input = dir.File("in.jsonl"), output = dir.File("out.jsonl");
        var rows = GoldenTokenizationTests.Rows(golden).ToList();
        File.WriteAllLines(input, rows.Select(r => JsonSerializer.Serialize(new
        {
            text = r.GetProperty("text").GetString(),
            text_pair = r.TryGetProperty("text_pair", out var p) ? p.GetString() : null,
        })));
        string tokenizer = model is null ? "minilm" : SharedData.Models(model.Split('/'));
        var (code, _, error) = Run("tokenize", "--tokenizer", tokenizer, "--lowercase", "true", "--input-jsonl", input, "--output", output);
        if (golden == "xlnet_spiece.jsonl")
            (code, _, error) = Run("tokenize", "--tokenizer", tokenizer, "--input-jsonl", input, "--output", output);
        Assert.True(code == 0, error);
        var lines = File.ReadAllLines(output);
        Assert.Equal(rows.Count, lines.Length);
        for (int i = 0; i < rows.Count; i++)
        {
            using var actual = JsonDocument.Parse(lines[i]);
            foreach (var field in new[] { "tokens", "ids", "ids_with_special", "token_type_ids", "tokens_pair", "ids_pair" })
            {
                if (!rows[i].TryGetProperty(field, out var expected)) continue;
                Assert.Equal(Normalize(expected), Normalize(actual.RootElement.GetProperty(field)));
            }
            Assert.Equal(rows[i].TryGetProperty("text_pair", out _) ? 6 : 4, actual.RootElement.EnumerateObject().Count());
        }
    }

    // The goldens are written by Python's json.dumps (", " separators, \u escapes); compare values, not spelling.
    private static string Normalize(JsonElement element) =>
        string.Join("\u0001", element.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString() : e.GetRawText()));

    [Fact]
    public void Input_jsonl_writes_to_stdout_by_default()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("in.jsonl"), "{\"text\": \"hello world\"}\n{\"text\": \"a\", \"text_pair\": \"b\"}\n");
        var (code, output, error) = Run("tokenize", "--tokenizer", "minilm", "--input-jsonl", dir.File("in.jsonl"));
        Assert.True(code == 0, error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("""{"tokens":["hello","world"],"ids":[7592,2088],"ids_with_special":[101,7592,2088,102],"token_type_ids":[0,0,0,0]}""", lines[0]);
        Assert.Contains("\"tokens_pair\":[\"b\"]", lines[1]);
    }

    [Fact]
    public void Input_jsonl_accepts_escaped_lone_surrogates_and_control_characters()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("in.jsonl"), "{\"text\": \"ab\\ud800cd x\\u0000y\\n\\\"q\\\"\"}\n");
        var (code, output, error) = Run("tokenize", "--input-jsonl", dir.File("in.jsonl"));
        Assert.True(code == 0, error);
        // ab + lone surrogate + cd is one unknown word; the NUL is dropped without splitting "xy".
        Assert.StartsWith("""{"tokens":["[UNK]","x","##y","\"","q","\""]""", output);
    }

    [Fact]
    public void Bad_input_line_names_the_file_and_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("in.jsonl"), "{\"text\": \"ok\"}\n{\"nope\": 1}\n");
        var (code, _, error) = Run("tokenize", "--input-jsonl", dir.File("in.jsonl"));
        Assert.Equal(CliApp.UserError, code);
        Assert.Contains("line 2", error);
        Assert.Contains("in.jsonl", error);
    }

    [Fact]
    public void Table_shows_pieces_ids_types_and_offsets()
    {
        var (code, output, error) = Run("tokenize", "Hello, wörld");
        Assert.True(code == 0, error);
        Assert.Contains("[CLS]", output);
        Assert.Matches(@"world\s+2088\s+0\s+7\s+5\s+wörld", output);
    }

    [Fact]
    public void Pair_option_shows_segment_one_with_offsets_into_the_pair_text()
    {
        var (code, output, error) = Run("tokenize", "--pair", "good morning", "hello");
        Assert.True(code == 0, error);
        Assert.Matches(@"morning\s+\d+\s+1\s+5\s+7\s+morning", output);
    }

    [Fact]
    public void Json_output_carries_offsets_and_the_truncation_flag()
    {
        var (code, output, error) = Run("tokenize", "--json", "--max-length", "4", "one two three four");
        Assert.True(code == 0, error);
        using var document = JsonDocument.Parse(output);
        var item = document.RootElement[0];
        Assert.True(item.GetProperty("truncated").GetBoolean());
        var tokens = item.GetProperty("tokens");
        Assert.Equal(4, tokens.GetArrayLength());
        Assert.Equal(4, tokens[2].GetProperty("start").GetInt32());
        Assert.Equal(3, tokens[2].GetProperty("length").GetInt32());
    }

    [Fact]
    public void Missing_model_folder_is_one_error_line()
    {
        var (code, _, error) = Run("tokenize", "--model", "/nonexistent/folder", "x");
        Assert.Equal(CliApp.UserError, code);
        Assert.StartsWith("error: ", error);
    }
}
