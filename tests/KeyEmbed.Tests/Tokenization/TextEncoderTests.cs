using System.Diagnostics;
using System.Text;
using KeyEmbed.Architectures;
using KeyEmbed.Models;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

public sealed class TextEncoderTests
{
    private static readonly TextEncoder Bert = TextEncoder.Load(BuiltInModels.Default);
    private static readonly TextEncoder XLNet = TextEncoder.Load(SharedData.Models("xlnet-spiece"));

    public static TheoryData<string> Encoders => new() { "bert", "xlnet" };

    private static TextEncoder Get(string name) => name == "bert" ? Bert : XLNet;

    [Theory]
    [MemberData(nameof(Encoders))]
    public void Empty_and_whitespace_only_text_give_only_the_special_tokens(string name)
    {
        var encoder = Get(name);
        foreach (var text in new[] { "", "   ", "\t\n\r ", "\u3000\u00A0" })
        {
            var encoded = encoder.Encode(text);
            Assert.Equal(2, encoded.Length);
            Assert.All(encoded.SpecialTokenMask, Assert.True);
            Assert.False(encoded.Truncated);
        }
    }

    [Fact]
    public void Control_and_format_characters_are_dropped_without_splitting_the_word()
    {
        var plain = Bert.Encode("zerowidth");
        var withControls = Bert.Encode("zero\u200Bwi\u0000dth\u0007\uFFFD");
        Assert.Equal(plain.Ids, withControls.Ids);
    }

    [Theory]
    [MemberData(nameof(Encoders))]
    public void Unpaired_surrogates_give_a_defined_result_with_offsets_in_range(string name)
    {
        string text = "ab\uD800cd \uDC00 x\uD83D";
        var encoded = Get(name).Encode(text);
        Assert.True(encoded.Length > 2);
        foreach (var offset in encoded.Offsets) Assert.InRange(offset.End, 0, text.Length);
    }

    [Theory]
    [MemberData(nameof(Encoders))]
    public void Noncharacters_that_ICU_refuses_to_normalize_give_a_defined_result(string name)
    {
        foreach (var text in new[] { "a\uFFFEb", "\uFFFF", "Ä\uFFFE", "\U0010FFFF x", "\uFDD0" })
        {
            var encoded = Get(name).Encode(text);
            Assert.True(encoded.Length >= 2);
        }
    }

    [Fact]
    public void Word_of_one_megabyte_is_one_unk_quickly()
    {
        string word = new('a', 1 << 20);
        var watch = Stopwatch.StartNew();
        var encoded = Bert.Encode(word);
        watch.Stop();
        Assert.Equal(["[CLS]", "[UNK]", "[SEP]"], encoded.Tokens);
        Assert.Equal(new TokenOffset(0, word.Length), encoded.Offsets[1]);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    [Fact]
    public void XLNet_text_of_one_megabyte_gives_a_cut_flagged_result_quickly()
    {
        string word = new('a', 1 << 20);
        var watch = Stopwatch.StartNew();
        var encoded = XLNet.Encode(word, maxLength: 16);
        watch.Stop();
        Assert.Equal(16, encoded.Length);
        Assert.True(encoded.Truncated);
        Assert.Equal(["<sep>", "<cls>"], encoded.Tokens.TakeLast(2));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"took {watch.Elapsed}");
    }

    [Fact]
    public void Word_of_two_hundred_characters_is_still_split_but_201_is_unk()
    {
        var at200 = Bert.Encode(string.Concat(Enumerable.Repeat("ab", 100)));
        var at201 = Bert.Encode(string.Concat(Enumerable.Repeat("ab", 100)) + "a");
        Assert.DoesNotContain("[UNK]", at200.Tokens);
        Assert.Equal(["[CLS]", "[UNK]", "[SEP]"], at201.Tokens);
    }

    [Fact]
    public void Two_hundred_limit_counts_code_points_not_utf16_units()
    {
        // 150 supplementary ideographs are 300 UTF-16 units but each is its own word (CJK split), and a 150-emoji word
        // is 150 code points: under the limit, so it is looked up (and unknown) rather than cut by length.
        string emoji = string.Concat(Enumerable.Repeat("\U0001F600", 150));
        var encoded = Bert.Encode(emoji);
        Assert.Equal(["[CLS]", "[UNK]", "[SEP]"], encoded.Tokens);
        Assert.Equal(new TokenOffset(0, 300), encoded.Offsets[1]);
    }

    [Theory]
    [MemberData(nameof(Encoders))]
    public void Text_longer_than_max_length_is_cut_and_flagged(string name)
    {
        var encoder = Get(name);
        string text = string.Join(" ", Enumerable.Repeat("hello world", 400));
        var full = encoder.Encode(text, maxLength: 100_000);
        var cut = encoder.Encode(text);
        Assert.False(full.Truncated);
        Assert.True(cut.Truncated);
        Assert.Equal(encoder.MaxLength, cut.Length);
        var small = encoder.Encode(text, maxLength: 10);
        Assert.Equal(10, small.Length);
        Assert.True(small.Truncated);
        // The kept tokens are the first ones, with the layout's special tokens still in place.
        var content = full.Ids.Where((_, i) => !full.SpecialTokenMask[i]).Take(8);
        Assert.Equal(content, small.Ids.Where((_, i) => !small.SpecialTokenMask[i]));
    }

    [Fact]
    public void Pairs_are_cut_longest_first()
    {
        var encoded = Bert.Encode("one two three four five six seven eight", "alpha beta", maxLength: 9);
        Assert.True(encoded.Truncated);
        Assert.Equal(["[CLS]", "one", "two", "three", "four", "[SEP]", "alpha", "beta", "[SEP]"], encoded.Tokens);
        Assert.Equal([0, 0, 0, 0, 0, 0, 1, 1, 1], encoded.TypeIds);
    }

    [Fact]
    public void Max_length_without_room_for_text_is_a_clear_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Bert.Encode("x", "y", maxLength: 3));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("max length 3", e.Message);
    }

    [Fact]
    public void Bert_offsets_point_back_into_the_original_text()
    {
        string text = "Crème  brûlée, İstanbul\u200B! 北京";
        var encoded = Bert.Encode(text);
        var sources = encoded.Offsets.Where((_, i) => !encoded.SpecialTokenMask[i]).Select(o => text.Substring(o.Start, o.Length)).ToList();
        Assert.Equal(["Cr", "ème", "br", "ûlé", "e", ",", "İstanbul", "!", "北", "京"], sources);
    }

    [Fact]
    public void XLNet_offsets_point_back_into_the_original_text()
    {
        string text = "Hello,  world 1,000";
        var encoded = XLNet.Encode(text);
        var pieces = Enumerable.Range(0, encoded.Length).Where(i => !encoded.SpecialTokenMask[i])
            .Select(i => (encoded.Tokens[i], text.Substring(encoded.Offsets[i].Start, encoded.Offsets[i].Length))).ToList();
        Assert.Contains(("Hello", "Hello"), pieces);
        Assert.Contains(("▁world", "world"), pieces);
        // "▁1,000" is re-split by XLNet's digit-comma rule only when the comma ends the piece; either way the
        // pieces cover "1,000" and nothing else.
        Assert.Equal("1,000", string.Concat(pieces.SkipWhile(p => p.Item1 != "▁world").Skip(1).Select(p => p.Item2)));
    }

    [Fact]
    public void XLNet_digit_comma_pieces_point_at_their_own_digits()
    {
        string text = "x 123,456";
        var encoded = XLNet.Encode(text);
        var pieces = Enumerable.Range(0, encoded.Length).Where(i => !encoded.SpecialTokenMask[i])
            .Select(i => encoded.Tokens[i] + "=" + text.Substring(encoded.Offsets[i].Start, encoded.Offsets[i].Length)).ToList();
        Assert.Equal(["▁x=x", "▁12=12", "3=3", ",=,", "45=45", "6=6"], pieces);
    }

    [Fact]
    public void Bert_batch_pads_on_the_right_with_pad_id_and_mask()
    {
        var batch = Bert.EncodeBatch(["hello world", "hello"]);
        Assert.Equal(2, batch.BatchSize);
        Assert.Equal(4, batch.SequenceLength);
        Assert.Equal(PaddingSide.Right, batch.PaddingSide);
        Assert.Equal([101L, 7592, 2088, 102, 101, 7592, 102, 0], batch.InputIds);
        Assert.Equal([1L, 1, 1, 1, 1, 1, 1, 0], batch.AttentionMask);
        Assert.Equal(new long[8], batch.TokenTypeIds);
        Assert.Equal(0, batch.FirstTokenColumn(1));
        var inputs = batch.ToModelInputs();
        Assert.Equal([2L, 4], inputs["input_ids"].Shape);
    }

    [Fact]
    public void XLNet_batch_pads_on_the_left_with_pad_5_and_segment_3()
    {
        var single = XLNet.Encode("hello world, this is a longer text");
        var batch = XLNet.EncodeBatch(["hello world, this is a longer text", "hi"]);
        var shortRow = XLNet.Encode("hi");
        int padding = single.Length - shortRow.Length;
        Assert.True(padding > 0);
        Assert.Equal(PaddingSide.Left, batch.PaddingSide);
        var row1 = batch.InputIds.Skip(batch.SequenceLength).ToArray();
        var types1 = batch.TokenTypeIds.Skip(batch.SequenceLength).ToArray();
        var mask1 = batch.AttentionMask.Skip(batch.SequenceLength).ToArray();
        Assert.All(row1.Take(padding), id => Assert.Equal(5L, id));
        Assert.All(types1.Take(padding), t => Assert.Equal(3L, t));
        Assert.All(mask1.Take(padding), m => Assert.Equal(0L, m));
        Assert.Equal(shortRow.Ids.Select(i => (long)i), row1.Skip(padding));
        Assert.Equal(padding, batch.FirstTokenColumn(1));
        Assert.Equal(2, shortRow.TypeIds[^1]);
    }

    [Fact]
    public void Batch_with_wrong_pair_count_is_a_clear_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Bert.EncodeBatch(["a", "b"], ["c"]));
        Assert.Contains("pair", e.Message);
    }

    [Fact]
    public void Special_token_strings_in_text_are_ordinary_text()
    {
        var encoded = Bert.Encode("[CLS]");
        Assert.Equal(["[CLS]", "[", "cl", "##s", "]", "[SEP]"], encoded.Tokens);
        Assert.Equal([true, false, false, false, false, true], encoded.SpecialTokenMask);
    }

    [Fact]
    public void Final_sigma_follows_python_lower()
    {
        // Σ at the end of a word after a cased letter is ς; inside a word σ; a lone Σ is σ.
        var chinese = TextEncoder.Load(SharedData.Models("bert-chinese-vocab"));
        Assert.Equal("##ς", chinese.Encode("ΟΣ").Tokens[2]);
        Assert.Equal("##σ", chinese.Encode("ΟΣΟ").Tokens[2]);
        Assert.Equal("σ", chinese.Encode("Σ").Tokens[1]);
        Assert.Equal("##ς", chinese.Encode("ΟΣ.").Tokens[2]);
    }
}

public sealed class XLNetOptionsTests
{
    private static readonly byte[] Model = File.ReadAllBytes(SharedData.Models("xlnet-spiece", "spiece.model"));

    [Fact]
    public void Accents_are_removed_unless_kept()
    {
        var removed = TextEncoder.FromSentencePieceModel(Model).Encode("café");
        var kept = TextEncoder.FromSentencePieceModel(Model, keepAccents: true).Encode("café");
        Assert.DoesNotContain(removed.Tokens, t => t.Contains('é'));
        Assert.Contains(kept.Tokens, t => t.Contains('é') || t == "<unk>");
        Assert.NotEqual(removed.Ids, kept.Ids);
    }

    [Fact]
    public void Lowercase_option_lowercases_before_sentencepiece()
    {
        var cased = TextEncoder.FromSentencePieceModel(Model).Encode("Hello WORLD");
        var lower = TextEncoder.FromSentencePieceModel(Model, lowercase: true).Encode("Hello WORLD");
        var reference = TextEncoder.FromSentencePieceModel(Model).Encode("hello world");
        Assert.Equal(reference.Ids, lower.Ids);
        Assert.NotEqual(cased.Ids, lower.Ids);
    }

    [Fact]
    public void Tokenizer_config_beside_spiece_model_sets_lowercase_and_accents()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("spiece.model"), Model);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"do_lower_case": true, "keep_accents": true, "model_max_length": 1000000000000000019884624838656}""");
        var encoder = TextEncoder.Load(dir.Path);
        Assert.Equal(TextEncoder.FromSentencePieceModel(Model, lowercase: true, keepAccents: true).Encode("Café").Ids, encoder.Encode("Café").Ids);
        Assert.Equal(TextEncoder.DefaultMaxLength, encoder.MaxLength);
        Assert.Equal(5, encoder.PadId);
        Assert.Equal(3, encoder.PadTypeId);
    }

    // Equal-scoring segmentations are decided by sentencepiece's float rounding and order; the expected pieces are
    // sentencepiece 0.1.97's answers (Microsoft.ML.Tokenizers' own Viterbi gives "e", "ee" for the second).
    [Theory]
    [InlineData("eee", new[] { "▁", "ee", "e" })]
    [InlineData("x \U00020000eee", new[] { "▁x", "▁", "\U00020000", "ee", "e" })]
    [InlineData("\U00020000eee", new[] { "▁", "\U00020000", "e", "ee" })]
    public void Ties_between_equal_paths_break_as_sentencepiece_breaks_them(string text, string[] expected)
    {
        var encoded = TextEncoder.FromSentencePieceModel(Model).Encode(text);
        Assert.Equal(expected, encoded.Tokens.Where((_, i) => !encoded.SpecialTokenMask[i]));
    }

    [Fact]
    public void User_defined_piece_typed_in_text_is_kept_whole_as_sentencepiece_does()
    {
        // <eop> is a user-defined piece of XLNet's model (sentencepiece matches it in text); <eod> and <cls> are control pieces.
        var encoded = TextEncoder.FromSentencePieceModel(Model).Encode("a<eop>b <cls>");
        Assert.Equal(["▁a", "<eop>", "b", "▁<", "cl", "s", ">"], encoded.Tokens.Where((_, i) => !encoded.SpecialTokenMask[i]));
    }

    [Fact]
    public void Pair_layout_is_a_sep_b_sep_cls()
    {
        var encoded = TextEncoder.FromSentencePieceModel(Model).Encode("hello", "world");
        Assert.Equal(["▁hello", "<sep>", "▁world", "<sep>", "<cls>"], encoded.Tokens);
        Assert.Equal([0, 0, 1, 1, 2], encoded.TypeIds);
        Assert.Equal([false, true, false, true, true], encoded.SpecialTokenMask);
    }
}

public sealed class TokenizerFilesTests
{
    [Fact]
    public void Vocab_with_crlf_reads_the_same_as_with_lf()
    {
        var lf = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n##s\n");
        var crlf = Encoding.UTF8.GetBytes("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n");
        var a = TextEncoder.FromWordPieceVocabulary(lf).Encode("Hellos");
        var b = TextEncoder.FromWordPieceVocabulary(crlf).Encode("Hellos");
        Assert.Equal([2, 4, 5, 3], a.Ids);
        Assert.Equal(a.Ids, b.Ids);
    }

    [Fact]
    public void Vocab_without_special_tokens_names_the_file_and_the_token()
    {
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.FromWordPieceVocabulary(Encoding.UTF8.GetBytes("a\nb\n"), source: "my/vocab.txt"));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("my/vocab.txt", e.Message);
        Assert.Contains("[CLS]", e.Message);
    }

    [Fact]
    public void Corrupt_sentencepiece_model_is_a_checkpoint_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.FromSentencePieceModel([0xFF, 0xFF, 0xFF, 0x01], source: "bad.model"));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("bad.model", e.Message);
    }

    private static readonly byte[] TinyVocab = Encoding.UTF8.GetBytes("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nHello\n");

    [Theory]
    [InlineData("uncased_L-12_H-768_A-12", null, "hello")]
    [InlineData("cased_L-12_H-768_A-12", null, "Hello")]
    [InlineData("multi_cased_L-12_H-768_A-12", null, "Hello")]
    [InlineData("cased_L-12_H-768_A-12", true, "hello")]
    [InlineData("uncased_L-12_H-768_A-12", false, "Hello")]
    public void Lowercase_default_follows_the_folder_name_unless_overridden(string folder, bool? lowercase, string expected)
    {
        using var dir = new TempDir();
        string model = Path.Combine(dir.Path, folder);
        Directory.CreateDirectory(model);
        File.WriteAllBytes(Path.Combine(model, "vocab.txt"), TinyVocab);
        var encoder = TextEncoder.Load(model, lowercase);
        Assert.Equal(expected, encoder.Encode("Hello").Tokens[1]);
    }

    [Fact]
    public void Tokenizer_config_do_lower_case_false_keeps_case()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("vocab.txt"), TinyVocab);
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"do_lower_case": false, "model_max_length": 128}""");
        var encoder = TextEncoder.Load(dir.Path);
        Assert.Equal("Hello", encoder.Encode("Hello").Tokens[1]);
        Assert.Equal(128, encoder.MaxLength);
    }

    [Theory]
    // Found by fuzzing (fuzz/findings/tokenizer-config): an unpaired surrogate escape in a name escaped as an
    // InvalidOperationException when the config's keys were looked up.
    [InlineData("""{"do_lower_case": false, "keep_a\uD880accents": true}""", "name at byte 25")]
    [InlineData("""{"do_lower_case": false, "\uDC00": true}""", "name at byte 25")]
    [InlineData("""{"tokenizer_class": "Bert\uD800Tokenizer"}""", "string at byte 20")]
    public void Tokenizer_config_with_an_unpaired_surrogate_escape_is_refused_naming_the_file(string json, string where)
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("vocab.txt"), TinyVocab);
        File.WriteAllText(dir.File("tokenizer_config.json"), json);
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.Load(dir.Path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, e.Kind);
        Assert.Contains("tokenizer_config.json", e.Message);
        Assert.True(e.Message.Contains(where, StringComparison.Ordinal), e.Message);
        Assert.Contains("unpaired surrogate", e.Message);
    }

    [Fact]
    public void Folder_without_tokenizer_is_a_clear_error()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.Load(dir.Path));
        Assert.Contains("vocab.txt", e.Message);
        Assert.Contains("spiece.model", e.Message);
    }

    [Fact]
    public void Unknown_name_is_a_clear_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => TextEncoder.Load("no-such-model-here"));
        Assert.Contains("no-such-model-here", e.Message);
        Assert.Contains("minilm", e.Message);
    }
}

public sealed class BertFastPathTests
{
    // Plain ASCII text takes a fast path (offsets are indexes); a trailing no-break space (whitespace to BERT, not
    // ASCII) sends the same text through the general path. Both must agree on every token and offset.
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ascii_fast_path_agrees_with_the_general_path(bool lowercase)
    {
        var encoder = TextEncoder.Load(BuiltInModels.Default, lowercase);
        var sentences = File.ReadLines(SharedData.Data("stsbenchmark", "sts-test.csv"))
            .SelectMany(line => line.Split('\t').Skip(5).Take(2)).Take(600).ToList();
        sentences.AddRange(["", "   ", "a\tb\r\nc", "x!!y...z", "[CLS] [SEP]", "don't", "U.S.A.", "~`^_|"]);
        var ids = new int[512];
        foreach (var sentence in sentences)
        {
            var fast = encoder.Encode(sentence);
            var general = encoder.Encode(sentence + "\u00A0");
            Assert.Equal(general.Tokens, fast.Tokens);
            Assert.Equal(general.Offsets, fast.Offsets);
            int count = encoder.EncodeIds(sentence, ids);
            Assert.Equal(fast.Ids, ids[..count].ToArray());
        }
    }
}

public sealed class TextEncoderConcurrencyTests
{
    [Theory]
    [InlineData("minilm")]
    [InlineData("xlnet")]
    public void Encoding_from_many_threads_gives_the_sequential_results(string model)
    {
        var encoder = model == "xlnet" ? TextEncoder.Load(SharedData.Models("xlnet-spiece")) : TextEncoder.Load(model);
        var texts = File.ReadLines(SharedData.Data("stsbenchmark", "sts-test.csv"))
            .SelectMany(line => line.Split('\t').Skip(5).Take(2)).Take(1500).ToArray();
        var expected = texts.Select(t => string.Join(",", encoder.Encode(t).Ids)).ToArray();
        var actual = new string[texts.Length];
        Parallel.For(0, texts.Length, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            var ids = new int[512];
            int count = encoder.EncodeIds(texts[i], ids);
            Assert.Equal(expected[i], string.Join(",", ids.Take(count)));
            actual[i] = string.Join(",", encoder.Encode(texts[i]).Ids);
        });
        Assert.Equal(expected, actual);
    }
}
