using System.Text.Json;
using KeyEmbed.Cli;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>XLM-R's SentencePiece with fairseq's id table against ../shared/golden/tokenization/xlmr_spiece.jsonl.</summary>
public sealed class XlmRobertaTokenizerTests
{
    private const string Golden = "xlmr_spiece.jsonl";

    private static string ModelFile => SharedData.Models("xlmr-standin", "sentencepiece.bpe.model");

    private static List<string> Values(JsonElement row, string field) =>
        row.TryGetProperty(field, out var v) ? [.. v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText())] : [];

    [Fact]
    public void Every_golden_row_is_reproduced_exactly_by_the_library()
    {
        var encoder = TextEncoder.Load(ModelFile);
        Assert.Equal("sentencepiece (xlm-roberta)", encoder.Kind);
        var failures = new List<string>();
        int rows = 0;
        foreach (var row in GoldenTokenizationTests.Rows(Golden))
        {
            rows++;
            string text = row.GetProperty("text").GetString()!;
            string? pair = row.TryGetProperty("text_pair", out var p) ? p.GetString() : null;
            var encoded = encoder.Encode(text, pair, maxLength: 100_000);
            var ids = encoded.Ids.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var types = encoded.TypeIds.Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
            var tokens = encoded.Tokens.Where((_, i) => !encoded.SpecialTokenMask[i]).ToList();
            var expectedTokens = Values(row, "tokens").Concat(Values(row, "tokens_pair")).ToList();
            if (!Values(row, "ids_with_special").SequenceEqual(ids)) failures.Add($"{text}: ids {string.Join(",", ids)}");
            if (!Values(row, "token_type_ids").SequenceEqual(types)) failures.Add($"{text}: types {string.Join(",", types)}");
            if (!expectedTokens.SequenceEqual(tokens)) failures.Add($"{text}: tokens {string.Join(" ", tokens)}");
        }
        Assert.Equal(185, rows);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join("\n", failures.Take(20)));
    }

    [Fact]
    public void Tokenize_input_jsonl_reproduces_every_golden_row()
    {
        using var dir = new TempDir();
        string input = dir.File("in.jsonl"), output = dir.File("out.jsonl");
        var rows = GoldenTokenizationTests.Rows(Golden).ToList();
        File.WriteAllLines(input, rows.Select(r => JsonSerializer.Serialize(new
        {
            text = r.GetProperty("text").GetString(),
            text_pair = r.TryGetProperty("text_pair", out var p) ? p.GetString() : null,
        })));
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["tokenize", "--tokenizer", ModelFile, "--input-jsonl", input, "--output", output], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        var lines = File.ReadAllLines(output);
        Assert.Equal(rows.Count, lines.Length);
        for (int i = 0; i < rows.Count; i++)
        {
            using var actual = JsonDocument.Parse(lines[i]);
            foreach (var field in new[] { "tokens", "ids", "ids_with_special", "token_type_ids", "tokens_pair", "ids_pair" })
                if (rows[i].TryGetProperty(field, out _))
                    Assert.Equal(Values(rows[i], field), Values(actual.RootElement, field));
        }
    }

    [Fact]
    public void Pairs_are_laid_out_as_fairseq_does_with_right_padding()
    {
        var encoder = TextEncoder.Load(ModelFile);
        var pair = encoder.Encode("hello", "world");
        Assert.Equal([0, 2, 2, 2], pair.Ids.Where((_, i) => pair.SpecialTokenMask[i]).Select(i => (int)i));
        Assert.Equal(0, pair.Ids[0]);
        Assert.All(pair.TypeIds, t => Assert.Equal(0, (int)t));
        var batch = encoder.Pad([encoder.Encode("hello world again"), encoder.Encode("hi")]);
        Assert.Equal(KeyEmbed.Architectures.PaddingSide.Right, batch.PaddingSide);
        Assert.Equal(1, encoder.PadId);
    }
}
