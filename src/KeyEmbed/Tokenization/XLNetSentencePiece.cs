using System.Text;
using KeyEmbed.Architectures;
using Microsoft.ML.Tokenizers;

namespace KeyEmbed.Tokenization;

/// <summary>
/// XLNet's tokenizer: its own text preprocessing (Hugging Face <c>XLNetTokenizer.preprocess_text</c> /
/// the original <c>prepro_utils.preprocess_text</c>), SentencePiece unigram over <c>spiece.model</c>
/// (normalization by Microsoft.ML.Tokenizers, segmentation by <see cref="SentencePieceUnigram"/>, which reproduces
/// sentencepiece's Viterbi and merges runs of unknown characters into one <c>&lt;unk&gt;</c>), the re-split of pieces ending in digit + comma, and the layout <c>A &lt;sep&gt; (B &lt;sep&gt;) &lt;cls&gt;</c>.
/// </summary>
internal sealed class XLNetSentencePiece : TextEncoder
{
    private const char WordStart = '\u2581';
    private readonly SentencePieceTokenizer _sentencePiece;
    private readonly int _sepId, _clsId, _padId, _unkId;
    private readonly string _sepToken, _clsToken;
    private readonly string _source;

    public XLNetSentencePiece(byte[] model, bool lowercase, bool keepAccents, int maxLength, string source)
        : this(model, lowercase, keepAccents, maxLength, source, xlnetRules: true)
    {
    }

    /// <summary>
    /// With <paramref name="xlnetRules"/> false: SentencePiece alone (controls deleted, whitespace collapsed, the
    /// model's normalizer, unigram segmentation), for <see cref="XlmRobertaSentencePiece"/>.
    /// </summary>
    /// <param name="model">The serialized SentencePiece ModelProto.</param>
    /// <param name="lowercase">Lower-case before SentencePiece.</param>
    /// <param name="keepAccents">Keep accents instead of NFKD + dropping combining marks.</param>
    /// <param name="maxLength">Default maximum sequence length.</param>
    /// <param name="source">Name used in error messages.</param>
    /// <param name="xlnetRules">
    /// XLNet's own rules on top of SentencePiece: the quote replacement, the digit-comma re-split and the
    /// <c>&lt;sep&gt;</c>/<c>&lt;cls&gt;</c>/<c>&lt;pad&gt;</c> pieces.
    /// </param>
    internal XLNetSentencePiece(byte[] model, bool lowercase, bool keepAccents, int maxLength, string source, bool xlnetRules)
        : base(maxLength)
    {
        _xlnetRules = xlnetRules;
        _source = source;
        Lowercase = lowercase;
        KeepAccents = keepAccents;
        try
        {
            using var stream = new MemoryStream(model, writable: false);
            _sentencePiece = SentencePieceTokenizer.Create(stream, false, false);
        }
        catch (Exception e) when (e is not KeyEmbedException and not OutOfMemoryException)
        {
            throw KeyEmbedException.Checkpoint(source, $"not a readable SentencePiece model ({e.GetType().Name}: {e.Message}); expected XLNet's spiece.model");
        }
        Proto.ModelProto proto;
        try
        {
            proto = Proto.ModelProto.Parser.ParseFrom(model);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw KeyEmbedException.Checkpoint(source, $"not a SentencePiece ModelProto ({e.Message}); expected XLNet's spiece.model");
        }
        // Control pieces (<cls>, <sep>, <pad>) are not in Microsoft.ML.Tokenizers' vocabulary; ids come from the proto.
        _pieceIds = new Dictionary<string, int>(StringComparer.Ordinal);
        _pieceStrings = new string[proto.Pieces.Count];
        for (int id = 0; id < proto.Pieces.Count; id++)
        {
            _pieceIds.TryAdd(proto.Pieces[id].Piece, id);
            _pieceStrings[id] = proto.Pieces[id].Piece;
        }
        VocabularySize = proto.Pieces.Count;
        _unkId = _sentencePiece.UnknownId;
        _unigram = new SentencePieceUnigram(proto, _unkId);
        _sepToken = "<sep>";
        _clsToken = "<cls>";
        if (!xlnetRules)
        {
            _sepId = _clsId = _padId = -1;
            return;
        }
        _sepId = Required("<sep>", source);
        _clsId = Required("<cls>", source);
        _padId = Required("<pad>", source);
    }

    private readonly bool _xlnetRules;
    private readonly Dictionary<string, int> _pieceIds;
    private readonly string[] _pieceStrings;
    private readonly SentencePieceUnigram _unigram;

    private int Required(string token, string source) =>
        _pieceIds.TryGetValue(token, out int id)
            ? id
            : throw KeyEmbedException.Checkpoint(source, $"the SentencePiece model has no '{token}' piece; an XLNet spiece.model has <cls>, <sep>, <pad>");

    /// <summary>SentencePiece's unknown piece id.</summary>
    internal int UnknownId => _unkId;

    /// <summary>Lower-case before SentencePiece (<c>do_lower_case</c>).</summary>
    public bool Lowercase { get; }

    /// <summary>Keep accents instead of NFKD + dropping combining marks.</summary>
    public bool KeepAccents { get; }

    /// <inheritdoc />
    public override string Kind => "sentencepiece";

    /// <inheritdoc />
    public override PaddingSide PaddingSide => PaddingSide.Left;

    /// <inheritdoc />
    public override int PadId => _padId;

    /// <summary>Hugging Face's pad segment id (the original XLNet code used 4; only equality of segment ids matters).</summary>
    public override int PadTypeId => 3;

    /// <inheritdoc />
    public override int VocabularySize { get; }

    /// <inheritdoc />
    public override int? UnknownTokenId => _unkId;

    internal override int SpecialTokenCount(bool pair) => pair ? 3 : 2;

    internal override void Layout(List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output)
    {
        output.Pieces(first, 0);
        output.Special(_sepId, _sepToken, 0);
        if (second is not null)
        {
            output.Pieces(second, 1);
            output.Special(_sepId, _sepToken, 1);
        }
        output.Special(_clsId, _clsToken, 2);
    }

    internal override int LayoutIds(List<TokenPiece> pieces, Span<int> ids)
    {
        for (int i = 0; i < pieces.Count; i++) ids[i] = pieces[i].Id;
        ids[pieces.Count] = _sepId;
        ids[pieces.Count + 1] = _clsId;
        return pieces.Count + 2;
    }

    internal override void Tokenize(string text, List<TokenPiece> output)
    {
        var prepared = Preprocess(text);
        if (prepared.Text.Length == 0) return;
        var pieces = EncodeAsPieces(prepared.Text);
        var map = NormalizedToPrepared(prepared.Text, pieces.Normalized);

        // XLNet's digit-comma rule (prepro_utils.encode_pieces): "▁12,": re-encode "12" without the word mark, then ",".
        foreach (var piece in pieces.Tokens)
        {
            string value = piece.Value;
            int start = piece.Start, end = piece.End;
            if (_xlnetRules && value.Length > 1 && value[^1] == ',' && IsPythonDigit(value[^2]))
            {
                var reencoded = EncodeAsPieces(value[..^1].Replace(WordStart.ToString(), "", StringComparison.Ordinal));
                var again = reencoded.Tokens;
                if (value[0] != WordStart && again.Count > 0 && again[0].Value[0] == WordStart)
                {
                    if (again[0].Value.Length == 1) again.RemoveAt(0);
                    else again[0] = again[0] with { Value = again[0].Value[1..] };
                }
                // Offsets: the re-encoded text is this piece's text without its word mark and comma, behind
                // SentencePiece's own dummy word mark.
                int textStart = start + (value[0] == WordStart ? 1 : 0);
                int dummy = reencoded.Normalized.Length > 0 && reencoded.Normalized[0] == WordStart ? 1 : 0;
                foreach (var part in again)
                {
                    int partStart = Math.Min(end - 1, textStart + Math.Max(0, part.Start - dummy));
                    int partEnd = Math.Min(end - 1, textStart + Math.Max(0, part.End - dummy));
                    output.Add(MakePiece(Id(part.Value), part.Value, partStart, Math.Max(partStart, partEnd), map, prepared));
                }
                output.Add(MakePiece(Id(","), ",", end - 1, end, map, prepared));
            }
            else
            {
                output.Add(MakePiece(piece.Id, value, start, end, map, prepared));
            }
        }
    }

    // Python str.isdigit on the character before the comma (Unicode digits, including superscripts).
    private static bool IsPythonDigit(char c) => System.Globalization.CharUnicodeInfo.GetDigitValue(c) >= 0;

    private int Id(string piece) => _pieceIds.TryGetValue(piece, out int id) ? id : _unkId;

    private static TokenPiece MakePiece(int id, string value, int normalizedStart, int normalizedEnd, int[] map, Prepared prepared)
    {
        // Map normalized [start, end) → prepared text units → original text. Word marks and spaces have no text of
        // their own: skipped at the start of a piece; a piece of only those is empty, placed after the text before it.
        int from = Math.Clamp(normalizedStart, 0, map.Length - 1), to = Math.Clamp(normalizedEnd - 1, 0, map.Length - 1);
        while (from <= to && (map[from] < 0 || prepared.Text[map[from]] == ' ')) from++;
        if (from > to)
        {
            int at = prepared.Start.Length == 0 ? 0 : map[to] < 0 ? prepared.Start[0] : prepared.End[map[to]];
            return new TokenPiece(id, value, at, 0);
        }
        int first = map[from];
        int last = Math.Max(first, map[to]);
        int origStart = prepared.Start[Math.Min(first, prepared.Start.Length - 1)];
        int origEnd = Math.Max(origStart, prepared.End[Math.Min(last, prepared.End.Length - 1)]);
        return new TokenPiece(id, value, origStart, origEnd - origStart);
    }

    private readonly record struct Piece(int Id, string Value, int Start, int End);

    private sealed record Encoded(List<Piece> Tokens, string Normalized);

    // SentencePiece's EncodeAsPieces: Microsoft.ML.Tokenizers normalizes (the model's precompiled character map,
    // whitespace, dummy prefix, '▁'); the segmentation is sentencepiece's own (SentencePieceUnigram), because the
    // library breaks ties between equal-scoring paths differently and emits one <unk> per unknown character.
    private Encoded EncodeAsPieces(string text)
    {
        string? normalized;
        try
        {
            _sentencePiece.EncodeToIds(text, false, false, 1, out normalized, out _, true, true);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            // Found by fuzzing (docs/reliability.md): a corrupt precompiled_charsmap (the normalization table) makes
            // Microsoft.ML.Tokenizers' trie search index outside its array. The model file is at fault, not the text.
            throw KeyEmbedException.Checkpoint(_source, $"the SentencePiece normalization table (precompiled_charsmap) is corrupt: {e.Message}");
        }
        normalized ??= text;
        var segments = _unigram.Encode(normalized);
        var pieces = new List<Piece>(segments.Count);
        foreach (var segment in segments)
        {
            string value = segment.Id == _unkId ? normalized[segment.Start..segment.End] : _pieceStrings[segment.Id];
            pieces.Add(new Piece(segment.Id, value, segment.Start, segment.End));
        }
        return new Encoded(pieces, normalized);
    }

    /// <summary>The preprocessed text and, per UTF-16 unit of it, the span of the original text it came from.</summary>
    private sealed record Prepared(string Text, int[] Start, int[] End);

    // Hugging Face XLNetTokenizer.preprocess_text: collapse whitespace, `` and '' to ", NFKD + drop combining
    // characters (unless keep_accents), lower-case (if do_lower_case). Offsets are carried through every step.
    private Prepared Preprocess(string text)
    {
        var chars = new StringBuilder(text.Length);
        var starts = new List<int>(text.Length);
        var ends = new List<int>(text.Length);
        var codePoints = new List<(int Cp, int Start, int End)>(text.Length);

        // " ".join(text.strip().split()) and the quote replacements.
        bool pendingSpace = false;
        var span = text.AsSpan();
        for (int i = 0; i < span.Length;)
        {
            int cp = PythonUnicode.CodePointAt(span, i, out int width);
            if (PythonUnicode.IsPythonSpace(cp))
            {
                pendingSpace = codePoints.Count > 0;
                i += width;
                continue;
            }
            if (IsDeletedControl(cp))
            {
                i += width;
                continue;
            }
            if (pendingSpace)
            {
                codePoints.Add((' ', i - 1, i));
                pendingSpace = false;
            }
            if (_xlnetRules && (cp == '`' || cp == '\'') && i + 1 < span.Length && span[i + 1] == cp)
            {
                codePoints.Add(('"', i, i + 2));
                i += 2;
                continue;
            }
            // A lone surrogate is not text SentencePiece can read (it sees UTF-8); like an invalid byte there, it is U+FFFD.
            codePoints.Add((cp is >= 0xD800 and <= 0xDFFF ? 0xFFFD : cp, i, i + width));
            i += width;
        }

        Span<char> source = stackalloc char[4];
        Span<char> decomposed = stackalloc char[64];
        var stage = new List<(int Cp, int Start, int End)>(codePoints.Count);
        foreach (var (cp, start, end) in codePoints)
        {
            if (KeepAccents || cp < 0xA0 || cp is >= 0xD800 and <= 0xDFFF)
            {
                stage.Add((cp, start, end));
                continue;
            }
            int length = new Rune(cp).EncodeToUtf16(source);
            int written = PythonUnicode.NormalizeCodePoint(source[..length], decomposed, NormalizationForm.FormKD);
            AddParts(decomposed[..written], start, end, stage);
        }

        if (Lowercase)
        {
            var all = new int[stage.Count];
            for (int k = 0; k < all.Length; k++) all[k] = stage[k].Cp;
            Span<int> lowered = stackalloc int[2];
            for (int k = 0; k < all.Length; k++)
            {
                int produced = PythonUnicode.LowerInto(all, k, lowered);
                for (int m = 0; m < produced; m++) Append(lowered[m], stage[k].Start, stage[k].End);
            }
        }
        else
        {
            foreach (var (cp, start, end) in stage) Append(cp, start, end);
        }
        return new Prepared(chars.ToString(), starts.ToArray(), ends.ToArray());

        void Append(int cp, int start, int end)
        {
            if (cp >= 0x10000)
            {
                chars.Append(char.ConvertFromUtf32(cp));
                starts.Add(start); ends.Add(end);
                starts.Add(start); ends.Add(end);
            }
            else
            {
                chars.Append((char)cp);
                starts.Add(start); ends.Add(end);
            }
        }
    }

    // SentencePiece's nmt_nfkc normalization (the rule XLNet's model was built with) deletes these C0/C1 controls;
    // Microsoft.ML.Tokenizers 2.0.1 keeps them (each then becomes an <unk>). The whitespace controls are already
    // collapsed by XLNet's remove_space; NUL stays, as in SentencePiece.
    private static bool IsDeletedControl(int cp) =>
        cp is >= 0x01 and <= 0x08 or >= 0x0E and <= 0x1F or 0x7F or 0x8F or 0x9F;

    private static void AddParts(ReadOnlySpan<char> parts, int start, int end, List<(int Cp, int Start, int End)> stage)
    {
        for (int d = 0; d < parts.Length;)
        {
            int part = PythonUnicode.CodePointAt(parts, d, out int w);
            if (!PythonUnicode.HasCombiningClass(part)) stage.Add((part, start, end));
            d += w;
        }
    }

    // Index map from SentencePiece's normalized text to the prepared text. SentencePiece adds a leading word mark and
    // writes spaces as '▁'; per code point its normalization is NFKC. When lengths agree code point by code point the
    // map is exact; otherwise (normalization merged or split characters) it is proportional.
    private static int[] NormalizedToPrepared(string prepared, string normalized)
    {
        var map = new int[Math.Max(1, normalized.Length)];
        int n = 0;
        if (normalized.Length > 0 && normalized[0] == WordStart && (prepared.Length == 0 || prepared[0] != ' '))
        {
            map[0] = -1;
            n = 1;
        }
        var span = prepared.AsSpan();
        bool exact = true;
        for (int p = 0; p < span.Length && exact;)
        {
            int cp = PythonUnicode.CodePointAt(span, p, out int width);
            int length = cp < 0xA0 ? 1 : NfkcLength(span.Slice(p, width));
            if (n + length > normalized.Length) { exact = false; break; }
            for (int k = 0; k < length; k++) map[n + k] = p + Math.Min(k, width - 1);
            n += length;
            p += width;
        }
        if (exact && n == normalized.Length) return map;
        for (int k = 0; k < normalized.Length; k++)
            map[k] = (int)((long)k * Math.Max(1, span.Length) / Math.Max(1, normalized.Length));
        return map;
    }

    private static int NfkcLength(ReadOnlySpan<char> codePoint)
    {
        Span<char> buffer = stackalloc char[64];
        return PythonUnicode.NormalizeCodePoint(codePoint, buffer, NormalizationForm.FormKC);
    }
}
