using System.Text;
using KeyEmbed.Cli;
using KeyEmbed.Tests.Fixtures;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>
/// RoBERTa's byte-level BPE. No golden tokenization exists for it, so these are properties that fail when the
/// tokenizer is wrong, over a BPE trained here from the texts of ../shared/golden/tokenization/*.jsonl.
/// </summary>
public sealed class RobertaByteLevelBpeTests : IDisposable
{
    private static readonly Lazy<List<string>> GoldenTexts = new(() =>
        new[] { "bert_uncased.jsonl", "bert_chinese.jsonl", "xlnet_spiece.jsonl", "xlmr_spiece.jsonl" }
            .SelectMany(GoldenTokenizationTests.Rows)
            .SelectMany(r => r.TryGetProperty("text_pair", out var p) ? [r.GetProperty("text").GetString()!, p.GetString()!] : new[] { r.GetProperty("text").GetString()! })
            .ToList());

    private static readonly Lazy<ByteLevelBpeTraining> Trained = new(() => ByteLevelBpeTraining.Train(GoldenTexts.Value, merges: 300, fullAlphabet: true));

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private RobertaByteLevelBpe Load()
    {
        Trained.Value.Write(_dir.Path);
        return Assert.IsType<RobertaByteLevelBpe>(TextEncoder.Load(_dir.Path));
    }

    private static bool IsValidUtf16(string text) => Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)) == text;

    [Fact]
    public void Decoding_the_ids_gives_back_every_golden_text()
    {
        var encoder = Load();
        var texts = GoldenTexts.Value.Where(IsValidUtf16).ToList();
        Assert.True(texts.Count > 700, $"{texts.Count} texts");
        Assert.Contains(texts, t => t.Any(c => c is >= '\u4e00' and <= '\u9fff'));
        var failures = new List<string>();
        foreach (var text in texts)
        {
            var encoded = encoder.Encode(text, maxLength: 100_000);
            var ids = encoded.Ids.Where((_, i) => !encoded.SpecialTokenMask[i]).ToList();
            Assert.All(encoded.Ids, id => Assert.InRange(id, 0, encoder.VocabularySize - 1));
            Assert.DoesNotContain(encoder.UnknownTokenId!.Value, ids);
            string decoded = encoder.Decode(ids);
            if (decoded != text) failures.Add($"{text} -> {decoded}");
        }
        Assert.True(failures.Count == 0, $"{failures.Count} texts differ:\n" + string.Join("\n", failures.Take(10)));
    }

    [Fact]
    public void Pieces_are_the_trained_merges_applied_in_rank_order()
    {
        var encoder = Load();
        var training = Trained.Value;
        // Inside the BMP the .NET regex is GPT-2's pattern exactly, so the test's own split + merge is an oracle.
        var texts = GoldenTexts.Value.Where(t => IsValidUtf16(t) && !t.Any(char.IsSurrogate)).ToList();
        int merged = 0;
        foreach (var text in texts)
        {
            var expected = ByteLevelBpeTraining.Words(text).SelectMany(training.Apply).ToList();
            var encoded = encoder.Encode(text, maxLength: 100_000);
            var actual = encoded.Tokens.Where((_, i) => !encoded.SpecialTokenMask[i]).ToList();
            Assert.True(expected.SequenceEqual(actual), $"{text}\nexpected {string.Join(' ', expected)}\nactual   {string.Join(' ', actual)}");
            Assert.Equal(expected.Select(p => training.Vocabulary[p]), encoded.Ids.Where((_, i) => !encoded.SpecialTokenMask[i]));
            merged += actual.Count(p => p.Length > 1);
        }
        Assert.True(merged > 1000, $"only {merged} merged pieces: the training did not exercise the merges");
    }

    [Fact]
    public void A_merge_ranked_later_loses_to_an_earlier_one()
    {
        // "abc": merges a+b (rank 0) and b+c (rank 1) give "ab c"; in the other order "a bc".
        foreach (var (merges, expected) in new[] { (new[] { "a b", "b c" }, new[] { "ab", "c" }), (new[] { "b c", "a b" }, new[] { "a", "bc" }) })
        {
            var vocabulary = new Dictionary<string, int> { ["<s>"] = 0, ["<pad>"] = 1, ["</s>"] = 2, ["<unk>"] = 3, ["a"] = 4, ["b"] = 5, ["c"] = 6, ["ab"] = 7, ["bc"] = 8 };
            var encoder = new RobertaByteLevelBpe(vocabulary, merges, 16, "test");
            var encoded = encoder.Encode("abc");
            Assert.Equal(expected, encoded.Tokens.Skip(1).Take(2));
        }
    }

    [Fact]
    public void Special_tokens_are_laid_out_as_roberta_does()
    {
        var encoder = Load();
        var vocabulary = Trained.Value.Vocabulary;
        var single = encoder.Encode("hello world");
        Assert.Equal(["<s>", "</s>"], single.Tokens.Where((_, i) => single.SpecialTokenMask[i]));
        Assert.Equal(vocabulary["<s>"], single.Ids[0]);
        Assert.Equal(vocabulary["</s>"], single.Ids[^1]);
        Assert.True(single.SpecialTokenMask[0] && single.SpecialTokenMask[^1]);
        Assert.Equal(single.Length - 2, single.SpecialTokenMask.Count(s => !s));

        var pair = encoder.Encode("hello world", "good night");
        var a = encoder.Encode("hello world");
        var b = encoder.Encode("good night");
        // <s> A </s></s> B </s>
        int[] expected = [vocabulary["<s>"], .. a.Ids.Skip(1).SkipLast(1), vocabulary["</s>"], vocabulary["</s>"], .. b.Ids.Skip(1).SkipLast(1), vocabulary["</s>"]];
        Assert.Equal(expected, pair.Ids);
        Assert.All(pair.TypeIds, t => Assert.Equal(0, (int)t));
        Assert.Equal(vocabulary["<pad>"], encoder.PadId);
        Assert.Equal(1, encoder.PadId);
        var batch = encoder.Pad([pair, single]);
        Assert.Equal(KeyEmbed.Architectures.PaddingSide.Right, batch.PaddingSide);
        Assert.Equal(encoder.PadId, batch.InputIds[batch.SequenceLength * 2 - 1]);
    }

    [Fact]
    public void A_leading_space_is_part_of_the_next_word_and_none_is_added_at_the_start()
    {
        var encoder = Load();
        var encoded = encoder.Encode("hello world");
        var pieces = encoded.Tokens.Where((_, i) => !encoded.SpecialTokenMask[i]).ToList();
        Assert.False(pieces[0].StartsWith('Ġ'));
        Assert.Contains(pieces, p => p.StartsWith('Ġ'));
        Assert.Equal(" world", string.Concat(pieces.SkipWhile(p => !p.StartsWith('Ġ'))).Replace('Ġ', ' '));
    }

    [Fact]
    public void Offsets_cover_the_characters_each_piece_came_from()
    {
        var encoder = Load();
        foreach (var text in GoldenTexts.Value.Where(IsValidUtf16))
        {
            var encoded = encoder.Encode(text, maxLength: 100_000);
            var pieces = Enumerable.Range(0, encoded.Length).Where(i => !encoded.SpecialTokenMask[i]).Select(i => (Offset: encoded.Offsets[i], Token: encoded.Tokens[i])).ToList();
            Assert.Equal(ByteLevelBpeTraining.Mapped(text), string.Concat(pieces.Select(p => p.Token)));
            for (int i = 0; i < pieces.Count; i++)
            {
                var (offset, token) = pieces[i];
                Assert.InRange(offset.Start, 0, text.Length);
                Assert.InRange(offset.End, offset.Start, text.Length);
                Assert.False(offset.Start < text.Length && char.IsLowSurrogate(text[offset.Start]), $"{text}: piece {i} starts inside a character");
                bool sharesBefore = i > 0 && (pieces[i - 1].Offset.End > offset.Start || pieces[i - 1].Offset.Start > offset.Start);
                bool sharesAfter = i + 1 < pieces.Count && pieces[i + 1].Offset.Start < offset.End;
                Assert.False(i > 0 && (pieces[i - 1].Offset.Start > offset.Start || pieces[i - 1].Offset.End > offset.End), $"{text}: piece {i} goes back");
                // A piece that shares no character with its neighbours is exactly its characters' bytes.
                if (!sharesBefore && !sharesAfter)
                    Assert.Equal(ByteLevelBpeTraining.Mapped(text.Substring(offset.Start, offset.Length)), token);
            }
        }
    }

    [Fact]
    public void A_letter_outside_the_bmp_stays_inside_its_word()
    {
        // .NET's \p{L} sees the surrogates of U+20000, not a letter, so the regex cuts the word in three;
        // GPT-2's pattern in Python keeps "abc𠀀def" whole.
        const string text = "abc\U00020000def xyz";
        Assert.Equal(4, ByteLevelBpeTraining.Gpt2Pattern.Matches(text).Count);
        var words = new List<(int Start, int Length)>();
        ByteLevelPreTokenizer.Split(text, words);
        Assert.Equal([(0, 8), (8, 4)], words);
    }

    [Fact]
    public void The_pre_tokenizer_splits_as_gpt2s_pattern_inside_the_bmp()
    {
        string[] extra = ["it's   they're  \n\n x", "  a", "a  ", "\t\tb", "''s'S", "x 12,345.6 !!? ok", "e\u0301t\u00e9", "\u00a0\u3000z"];
        foreach (var text in GoldenTexts.Value.Where(t => !t.Any(char.IsSurrogate)).Concat(extra))
        {
            var expected = ByteLevelBpeTraining.Gpt2Pattern.Matches(text).Select(m => (m.Index, m.Length)).ToList();
            var actual = new List<(int Start, int Length)>();
            ByteLevelPreTokenizer.Split(text, actual);
            Assert.True(expected.SequenceEqual(actual), $"{text}: {string.Join(",", expected)} vs {string.Join(",", actual)}");
        }
    }

    [Fact]
    public void Malformed_files_name_the_file_and_line()
    {
        Trained.Value.Write(_dir.Path);
        File.AppendAllText(_dir.File("merges.txt"), "a b c\n");
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.Load(_dir.Path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("merges.txt", e.Message);
        Assert.Contains($"line {Trained.Value.Merges.Count + 2}", e.Message);

        Trained.Value.Write(_dir.Path);
        File.WriteAllText(_dir.File("vocab.json"), "{\"a\": 0}");
        e = Assert.Throws<KeyEmbedException>(() => TextEncoder.Load(_dir.File("vocab.json")));
        Assert.Contains("vocab.json", e.Message);
        Assert.Contains("<s>", e.Message);
    }

    [Fact]
    public void A_vocabulary_beyond_the_models_rows_is_refused_when_the_model_loads()
    {
        // roberta-tiny-random has 99 rows; the trained vocabulary has over 500 ids.
        File.Copy(SharedData.Golden("roberta-tiny-random", "config.json"), _dir.File("config.json"));
        File.Copy(SharedData.Golden("roberta-tiny-random", "model.safetensors"), _dir.File("model.safetensors"));
        Trained.Value.Write(_dir.Path);
        var e = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(_dir.Path, new KeyEmbedModelOptions { UseGraphCache = false }));
        Assert.Contains("99 rows", e.Message);
    }

    [Fact]
    public void Tokenize_command_reads_a_vocab_json_with_its_merges()
    {
        Trained.Value.Write(_dir.Path);
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(["tokenize", "--tokenizer", _dir.File("vocab.json"), "--json", "hello world"], stdout, stderr);
        Assert.True(code == 0, stderr.ToString());
        Assert.Contains("Ġ", stdout.ToString());
    }
}
