using System.Text.Json;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>Every row of ../shared/golden/tokenization/*.jsonl, reproduced exactly.</summary>
public sealed class GoldenTokenizationTests
{
    internal static TextEncoder EncoderFor(string golden) => golden switch
    {
        "bert_uncased.jsonl" => TextEncoder.FromWordPieceVocabulary(BuiltInModels.ReadMiniLmResource(BuiltInModels.MiniLmVocabResource)),
        "bert_chinese.jsonl" => TextEncoder.Load(SharedData.Models("bert-chinese-vocab", "vocab.txt")),
        "xlnet_spiece.jsonl" => TextEncoder.Load(SharedData.Models("xlnet-spiece", "spiece.model")),
        _ => throw new ArgumentException(golden),
    };

    internal static IEnumerable<JsonElement> Rows(string golden)
    {
        foreach (var line in File.ReadLines(SharedData.Golden("tokenization", golden)))
            if (line.Length > 0) yield return JsonDocument.Parse(line).RootElement.Clone();
    }

    [Theory]
    [InlineData("bert_uncased.jsonl")]
    [InlineData("bert_chinese.jsonl")]
    [InlineData("xlnet_spiece.jsonl")]
    public void Every_golden_row_is_reproduced_exactly(string golden)
    {
        var encoder = EncoderFor(golden);
        var failures = new List<string>();
        int rows = 0;
        foreach (var row in Rows(golden))
        {
            rows++;
            string text = row.GetProperty("text").GetString()!;
            string? pair = row.TryGetProperty("text_pair", out var p) ? p.GetString() : null;
            var encoded = encoder.Encode(text, pair, maxLength: 100_000);
            Assert.False(encoded.Truncated);
            var actual = Split(encoded);
            Compare(failures, text, "tokens", Strings(row, "tokens"), actual.TokensA);
            Compare(failures, text, "ids", Ints(row, "ids"), actual.IdsA);
            if (pair is not null)
            {
                Compare(failures, text, "tokens_pair", Strings(row, "tokens_pair"), actual.TokensB);
                Compare(failures, text, "ids_pair", Ints(row, "ids_pair"), actual.IdsB);
            }
            Compare(failures, text, "ids_with_special", Ints(row, "ids_with_special"), encoded.Ids.Select(i => i.ToString()).ToList());
            Compare(failures, text, "token_type_ids", Ints(row, "token_type_ids"), encoded.TypeIds.Select(i => i.ToString()).ToList());
        }
        Assert.Equal(185, rows);
        Assert.True(failures.Count == 0, $"{failures.Count} mismatches:\n" + string.Join("\n", failures.Take(40)));
    }

    [Theory]
    [InlineData("bert_uncased.jsonl")]
    [InlineData("bert_chinese.jsonl")]
    [InlineData("xlnet_spiece.jsonl")]
    public void Offsets_of_golden_rows_point_into_the_text_in_order(string golden)
    {
        var encoder = EncoderFor(golden);
        foreach (var row in Rows(golden))
        {
            string text = row.GetProperty("text").GetString()!;
            var encoded = encoder.Encode(text, maxLength: 100_000);
            int previousStart = 0;
            for (int t = 0; t < encoded.Length; t++)
            {
                var offset = encoded.Offsets[t];
                if (encoded.SpecialTokenMask[t])
                {
                    Assert.Equal(new TokenOffset(0, 0), offset);
                    continue;
                }
                Assert.InRange(offset.Start, previousStart, text.Length);
                Assert.InRange(offset.End, offset.Start, text.Length);
                previousStart = offset.Start;
            }
        }
    }

    internal sealed record Sides(List<string> TokensA, List<string> IdsA, List<string> TokensB, List<string> IdsB);

    internal static Sides Split(EncodedText encoded)
    {
        var sides = new Sides([], [], [], []);
        for (int t = 0; t < encoded.Length; t++)
        {
            if (encoded.SpecialTokenMask[t]) continue;
            bool first = encoded.TypeIds[t] == 0;
            (first ? sides.TokensA : sides.TokensB).Add(encoded.Tokens[t]);
            (first ? sides.IdsA : sides.IdsB).Add(encoded.Ids[t].ToString());
        }
        return sides;
    }

    private static List<string> Strings(JsonElement row, string name) =>
        row.GetProperty(name).EnumerateArray().Select(e => e.GetString()!).ToList();

    private static List<string> Ints(JsonElement row, string name) =>
        row.GetProperty(name).EnumerateArray().Select(e => e.GetInt32().ToString()).ToList();

    private static void Compare(List<string> failures, string text, string field, List<string> expected, List<string> actual)
    {
        if (expected.SequenceEqual(actual)) return;
        string Show(List<string> items) => "[" + string.Join(", ", items.Take(20)) + (items.Count > 20 ? ", …" : "") + "]";
        string shown = text.Length > 60 ? text[..60] + "…" : text;
        failures.Add($"{System.Text.Json.JsonSerializer.Serialize(shown)} {field}: expected {Show(expected)} got {Show(actual)}");
    }
}
