using System.Text.Json;
using KeyEmbed.Architectures;
using Microsoft.ML.Tokenizers;

namespace KeyEmbed.Tokenization;

/// <summary>
/// RoBERTa's tokenizer (Hugging Face <c>RobertaTokenizer</c>, GPT-2's byte-level BPE): <see cref="ByteLevelPreTokenizer"/>
/// splits the text as GPT-2's pattern does, each piece's UTF-8 bytes become GPT-2's printable characters (a space is
/// <c>Ġ</c>) and are merged in <c>merges.txt</c>'s rank order by Microsoft.ML.Tokenizers' <see cref="BpeTokenizer"/>
/// (<c>ByteLevel</c>), ids from <c>vocab.json</c> (a piece it lacks is <c>&lt;unk&gt;</c>). No prefix space is added
/// (<c>add_prefix_space</c> false, the default). Layouts <c>&lt;s&gt; A &lt;/s&gt;</c> and
/// <c>&lt;s&gt; A &lt;/s&gt;&lt;/s&gt; B &lt;/s&gt;</c>, one token type, right padding with <c>&lt;pad&gt;</c> (1 in
/// RoBERTa's vocabulary). A special token typed in the text (<c>&lt;s&gt;</c>, <c>&lt;mask&gt;</c>) is ordinary text,
/// as for KeyEmbed's other tokenizers (Hugging Face would turn it into the special token).
/// </summary>
internal sealed class RobertaByteLevelBpe : TextEncoder
{
    /// <summary>The vocabulary's file name in Hugging Face's RoBERTa / GPT-2 releases.</summary>
    public const string VocabularyFile = "vocab.json";

    /// <summary>The merges' file name.</summary>
    public const string MergesFile = "merges.txt";

    private const string Start = "<s>", End = "</s>", Padding = "<pad>", Unknown = "<unk>";
    private readonly BpeTokenizer _bpe;
    private readonly int _startId, _endId, _padId;
    private readonly int? _unknownId;

    /// <param name="vocabulary">Token → id (<c>vocab.json</c>).</param>
    /// <param name="merges">The merges in rank order, each <c>"left right"</c>.</param>
    /// <param name="maxLength">Default maximum sequence length.</param>
    /// <param name="source">Name used in error messages (the vocabulary file).</param>
    public RobertaByteLevelBpe(IReadOnlyDictionary<string, int> vocabulary, IReadOnlyList<string> merges, int maxLength, string source)
        : base(maxLength)
    {
        if (vocabulary.Count == 0) throw KeyEmbedException.Checkpoint(source, "the vocabulary is empty");
        int Required(string token) => vocabulary.TryGetValue(token, out int id) ? id
            : throw KeyEmbedException.Checkpoint(source, $"has no '{token}' entry; RoBERTa's layout needs <s> and </s> (is this a RoBERTa vocab.json?)");
        _startId = Required(Start);
        _endId = Required(End);
        _padId = vocabulary.TryGetValue(Padding, out int pad) ? pad : RobertaDefaultPadding;
        _unknownId = vocabulary.TryGetValue(Unknown, out int unk) ? unk : null;
        int max = 0;
        foreach (var (token, id) in vocabulary)
        {
            if (id < 0) throw KeyEmbedException.Checkpoint(source, $"entry '{token}' has the negative id {id}");
            max = Math.Max(max, id);
        }
        VocabularySize = Math.Max(max, _padId) + 1;
        try
        {
            _bpe = BpeTokenizer.Create(new BpeOptions(vocabulary)
            {
                Merges = merges,
                ByteLevel = true,
                UnknownToken = _unknownId is null ? null : Unknown,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            throw KeyEmbedException.Checkpoint(source, $"not a usable byte-level BPE vocabulary with its merges ({e.Message})");
        }
    }

    /// <summary>Hugging Face's RoBERTa <c>pad_token_id</c>, used when the vocabulary has no <c>&lt;pad&gt;</c>.</summary>
    private const int RobertaDefaultPadding = 1;

    /// <inheritdoc />
    public override string Kind => "byte-level bpe (roberta)";

    /// <inheritdoc />
    public override PaddingSide PaddingSide => PaddingSide.Right;

    /// <inheritdoc />
    public override int PadId => _padId;

    /// <inheritdoc />
    public override int PadTypeId => 0;

    /// <inheritdoc />
    public override int VocabularySize { get; }

    /// <inheritdoc />
    public override int? UnknownTokenId => _unknownId;

    /// <summary>The text of <paramref name="ids"/> (special tokens included as their strings): bytes back from GPT-2's characters, UTF-8 decoded.</summary>
    internal string Decode(IEnumerable<int> ids) => _bpe.Decode(ids, false) ?? "";

    internal override int SpecialTokenCount(bool pair) => pair ? RobertaSequenceLayout.PairSpecialTokens : RobertaSequenceLayout.SpecialTokens;

    internal override void Layout(List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output) =>
        RobertaSequenceLayout.Layout(_startId, _endId, first, second, output);

    internal override int LayoutIds(List<TokenPiece> pieces, Span<int> ids) =>
        RobertaSequenceLayout.LayoutIds(_startId, _endId, pieces, ids);

    internal override void Tokenize(string text, List<TokenPiece> output)
    {
        var words = new List<(int Start, int Length)>();
        ByteLevelPreTokenizer.Split(text, words);
        foreach (var (start, length) in words)
        {
            // One pre-token at a time: the library's own pre-tokenizer is off, so the word is merged whole.
            var tokens = _bpe.EncodeToTokens(text.AsSpan(start, length), out _, considerPreTokenization: false, considerNormalization: false);
            foreach (var token in tokens)
            {
                var (offset, count) = token.Offset.GetOffsetAndLength(length);
                int from = start + offset, to = from + count;
                // A piece holding part of a character's bytes points at the whole character; the library gives a
                // character outside the BMP only its high surrogate.
                if (from > 0 && from < text.Length && char.IsLowSurrogate(text[from]) && char.IsHighSurrogate(text[from - 1])) from--;
                if (to > 0 && to < text.Length && char.IsHighSurrogate(text[to - 1]) && char.IsLowSurrogate(text[to])) to++;
                output.Add(new TokenPiece(token.Id, token.Value, from, to - from));
            }
        }
    }

    /// <summary>
    /// Reads a <c>vocab.json</c> and the <c>merges.txt</c> beside it (or <paramref name="mergesFile"/>): Hugging Face's
    /// files for RoBERTa and GPT-2. Malformed files are a checkpoint error naming the file (and line).
    /// </summary>
    public static RobertaByteLevelBpe Load(string vocabularyFile, string mergesFile, int maxLength)
    {
        var vocabulary = ReadVocabulary(vocabularyFile);
        var merges = ReadMerges(mergesFile);
        return new RobertaByteLevelBpe(vocabulary, merges, maxLength, vocabularyFile);
    }

    private static Dictionary<string, int> ReadVocabulary(string file)
    {
        try
        {
            using var document = KeyEmbed.IO.StrictJson.Parse(ReadAll(file));
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Checkpoint(file, "is not a JSON object of token → id");
            var vocabulary = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var entry in document.RootElement.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out int id))
                    throw KeyEmbedException.Checkpoint(file, $"entry '{entry.Name}' is {entry.Value.GetRawText()}, not an integer id");
                vocabulary[entry.Name] = id;
            }
            return vocabulary;
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Checkpoint(file, $"is not valid JSON ({e.Message})");
        }
    }

    private static List<string> ReadMerges(string file)
    {
        var text = System.Text.Encoding.UTF8.GetString(ReadAll(file));
        var merges = new List<string>();
        int lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            string line = raw.TrimEnd('\r');
            // Hugging Face writes "#version: 0.2" first; blank lines (a final newline) carry nothing.
            if (line.Length == 0 || (lineNumber == 1 && line.StartsWith("#version", StringComparison.Ordinal))) continue;
            int space = line.IndexOf(' ');
            if (space <= 0 || space == line.Length - 1 || line.IndexOf(' ', space + 1) >= 0)
                throw KeyEmbedException.Checkpoint(file, $"line {lineNumber} is not a merge of two tokens separated by one space: '{Shorten(line)}'");
            merges.Add(line);
        }
        return merges;
    }

    private static string Shorten(string line) => line.Length <= 60 ? line : line[..60] + "…";

    private static byte[] ReadAll(string file)
    {
        try
        {
            return File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KeyEmbedException.Checkpoint(file, $"cannot be read ({e.Message})");
        }
    }
}
