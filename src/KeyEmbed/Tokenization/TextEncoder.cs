using KeyEmbed.Architectures;

namespace KeyEmbed.Tokenization;

/// <summary>
/// Turns text (or a text pair) into model input exactly as the model's reference tokenizer would: BERT's WordPiece
/// (Google's <c>tokenization.py</c>) or XLNet's SentencePiece. Load one with <see cref="Load"/>. Instances are
/// immutable and safe to use from several threads.
/// </summary>
public abstract class TextEncoder
{
    /// <summary>The default maximum sequence length, special tokens included, when neither the caller nor the model says.</summary>
    public const int DefaultMaxLength = 512;

    private protected TextEncoder(int maxLength)
    {
        if (maxLength < 4) throw KeyEmbedException.Input($"maximum length {maxLength} is too small; it counts special tokens and must be at least 4");
        MaxLength = maxLength;
    }

    /// <summary>Maximum sequence length, special tokens included, used when <c>Encode</c> is given none.</summary>
    public int MaxLength { get; private set; }

    /// <summary>Which tokenizer this is: <c>wordpiece</c> or <c>sentencepiece</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>Which side padding goes on (BERT right, XLNet left).</summary>
    public abstract PaddingSide PaddingSide { get; }

    /// <summary>Id that fills padding positions.</summary>
    public abstract int PadId { get; }

    /// <summary>Segment id of padding positions (BERT 0, XLNet 3).</summary>
    public abstract int PadTypeId { get; }

    /// <summary>Number of entries in the vocabulary.</summary>
    public abstract int VocabularySize { get; }

    /// <summary>The id of the unknown token (<c>[UNK]</c>, <c>&lt;unk&gt;</c>); null when the tokenizer has none.</summary>
    public virtual int? UnknownTokenId => null;

    /// <summary>
    /// The share of <paramref name="text"/>'s tokens (special tokens aside) that the vocabulary does not know, 0..1:
    /// high for a text in a language or script the model was not trained on (<see cref="UnknownTokens"/>).
    /// </summary>
    public double UnknownShare(string text)
    {
        if (UnknownTokenId is not { } unknown) return 0;
        var encoded = Encode(text);
        int real = 0, unknownCount = 0;
        for (int i = 0; i < encoded.Length; i++)
        {
            if (encoded.SpecialTokenMask[i]) continue;
            real++;
            if (encoded.Ids[i] == unknown) unknownCount++;
        }
        return real == 0 ? 0 : (double)unknownCount / real;
    }

    /// <summary>A copy of this encoder whose default maximum length is <paramref name="maxLength"/> (e.g. the model's position limit).</summary>
    public TextEncoder WithMaxLength(int maxLength)
    {
        if (maxLength < 4) throw KeyEmbedException.Input($"maximum length {maxLength} is too small; it counts special tokens and must be at least 4");
        var copy = (TextEncoder)MemberwiseClone();
        copy.MaxLength = maxLength;
        copy._sparePieces = null;
        return copy;
    }

    /// <summary>
    /// Encodes one text, or a pair, with the model's special tokens. Longer input is cut to
    /// <paramref name="maxLength"/> tokens (special tokens included; a pair loses tokens from its longer side first)
    /// and flagged <see cref="EncodedText.Truncated"/>.
    /// </summary>
    /// <param name="text">The text; any string (empty, control characters, lone surrogates) gives a defined result.</param>
    /// <param name="pair">An optional second text (segment 1).</param>
    /// <param name="maxLength">Maximum tokens including special tokens; default <see cref="MaxLength"/>.</param>
    public EncodedText Encode(string text, string? pair = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        int limit = maxLength ?? MaxLength;
        int specials = SpecialTokenCount(pair is not null);
        if (limit < specials + 1)
            throw KeyEmbedException.Input($"max length {limit} leaves no room for text: the layout alone takes {specials} special tokens");
        var first = RentPieces();
        Tokenize(text, first);
        List<TokenPiece>? second = null;
        if (pair is not null)
        {
            second = new List<TokenPiece>();
            Tokenize(pair, second);
        }
        bool truncated = Truncate(first, second, limit - specials);
        var writer = new SequenceWriter(first.Count + (second?.Count ?? 0) + specials);
        Layout(first, second, writer);
        ReturnPieces(first);
        return writer.Finish(truncated);
    }

    /// <summary>
    /// Encodes one text as consecutive windows of at most <see cref="MaxLength"/> tokens, each with the model's
    /// special tokens: one window when the text fits, more when it is longer (used to embed long texts by windows).
    /// </summary>
    internal IReadOnlyList<EncodedText> EncodeWindows(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EncodeWindows(Pieces(text));
    }

    /// <summary>One text's pieces, special tokens aside: tokenized once, then laid out as often as needed (<see cref="EncodeWindows(IReadOnlyList{TokenPiece})"/>, <see cref="EncodeSingle"/>).</summary>
    internal IReadOnlyList<TokenPiece> Pieces(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<TokenPiece>();
        Tokenize(text, pieces);
        return pieces;
    }

    /// <summary><see cref="EncodeWindows(string)"/> from a text's <see cref="Pieces"/> (left unchanged).</summary>
    internal IReadOnlyList<EncodedText> EncodeWindows(IReadOnlyList<TokenPiece> text)
    {
        var pieces = text as List<TokenPiece> ?? [.. text];
        int specials = SpecialTokenCount(pair: false);
        int room = MaxLength - specials;
        if (pieces.Count <= room) return [LayoutSingle(pieces, truncated: false)];
        var windows = new List<EncodedText>((pieces.Count + room - 1) / room);
        for (int start = 0; start < pieces.Count; start += room)
            windows.Add(LayoutSingle(pieces.GetRange(start, Math.Min(room, pieces.Count - start)), truncated: false));
        return windows;
    }

    /// <summary>
    /// <see cref="Encode"/> of one text from its <see cref="Pieces"/> (left unchanged): cut to <paramref name="maxLength"/>
    /// tokens, special tokens included, and flagged when cut.
    /// </summary>
    internal EncodedText EncodeSingle(IReadOnlyList<TokenPiece> pieces, int maxLength)
    {
        int specials = SpecialTokenCount(pair: false);
        if (maxLength < specials + 1)
            throw KeyEmbedException.Input($"max length {maxLength} leaves no room for text: the layout alone takes {specials} special tokens");
        int room = maxLength - specials;
        var list = pieces.Count > room ? pieces.Take(room).ToList() : pieces as List<TokenPiece> ?? [.. pieces];
        return LayoutSingle(list, truncated: pieces.Count > room);
    }

    /// <summary>How many tokens the windows of <see cref="EncodeWindows(IReadOnlyList{TokenPiece})"/> hold together, without laying them out.</summary>
    internal int WindowTokenCount(int pieceCount)
    {
        int specials = SpecialTokenCount(pair: false);
        int room = MaxLength - specials;
        int windows = pieceCount <= room ? 1 : (pieceCount + room - 1) / room;
        return pieceCount + windows * specials;
    }

    /// <summary><see cref="UnknownShare(string)"/> of a text's <see cref="Pieces"/>.</summary>
    internal double UnknownShare(IReadOnlyList<TokenPiece> pieces)
    {
        // As Encode(text) sees it: the pieces of the first window.
        int seen = Math.Min(pieces.Count, MaxLength - SpecialTokenCount(pair: false));
        if (UnknownTokenId is not { } unknown || seen <= 0) return 0;
        int count = 0;
        for (int i = 0; i < seen; i++) if (pieces[i].Id == unknown) count++;
        return (double)count / seen;
    }

    private EncodedText LayoutSingle(List<TokenPiece> pieces, bool truncated)
    {
        var writer = new SequenceWriter(pieces.Count + SpecialTokenCount(pair: false));
        Layout(pieces, null, writer);
        return writer.Finish(truncated);
    }

    /// <summary>
    /// Writes the ids of one text, special tokens included, into <paramref name="ids"/> (cut to its length, counting
    /// special tokens) and returns how many were written: the allocation-light path for callers that need only ids.
    /// </summary>
    internal int EncodeIds(string text, Span<int> ids)
    {
        var pieces = RentPieces();
        Tokenize(text, pieces);
        int specials = SpecialTokenCount(pair: false);
        if (pieces.Count > ids.Length - specials) pieces.RemoveRange(ids.Length - specials, pieces.Count - (ids.Length - specials));
        int count = LayoutIds(pieces, ids);
        ReturnPieces(pieces);
        return count;
    }

    // One spare piece list per encoder, handed out atomically: the hot single-text path then allocates nothing
    // for its working list. A caller that finds it taken (another thread) simply allocates.
    private List<TokenPiece>? _sparePieces;

    private List<TokenPiece> RentPieces() => Interlocked.Exchange(ref _sparePieces, null) ?? new List<TokenPiece>(32);

    private void ReturnPieces(List<TokenPiece> pieces)
    {
        if (pieces.Capacity > 4096) return;
        pieces.Clear();
        _sparePieces = pieces;
    }

    /// <summary>
    /// Encodes several texts (and optional pair texts, same count) and pads them into dense int64 arrays of the
    /// longest item's length.
    /// </summary>
    public BatchEncoding EncodeBatch(IReadOnlyList<string> texts, IReadOnlyList<string?>? pairs = null, int? maxLength = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        if (pairs is not null && pairs.Count != texts.Count)
            throw KeyEmbedException.Input($"got {texts.Count} texts but {pairs.Count} pair texts; give one pair text per text (or none)");
        var items = new EncodedText[texts.Count];
        for (int i = 0; i < items.Length; i++) items[i] = Encode(texts[i], pairs?[i], maxLength);
        return Pad(items);
    }

    /// <summary>Pads already encoded items into a batch (the caller may have sorted or grouped them).</summary>
    public BatchEncoding Pad(IReadOnlyList<EncodedText> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        int columns = 0;
        foreach (var item in items) columns = Math.Max(columns, item.Length);
        var ids = new long[items.Count * columns];
        var mask = new long[ids.Length];
        var types = new long[ids.Length];
        for (int row = 0; row < items.Count; row++)
        {
            var item = items[row];
            int padding = columns - item.Length;
            int first = PaddingSide == PaddingSide.Left ? padding : 0;
            int rowStart = row * columns;
            for (int c = 0; c < columns; c++)
            {
                ids[rowStart + c] = PadId;
                types[rowStart + c] = PadTypeId;
            }
            for (int t = 0; t < item.Length; t++)
            {
                ids[rowStart + first + t] = item.Ids[t];
                types[rowStart + first + t] = item.TypeIds[t];
                mask[rowStart + first + t] = 1;
            }
        }
        return new BatchEncoding(items, columns, ids, mask, types, PaddingSide);
    }

    /// <summary>
    /// Loads a tokenizer from a <c>vocab.txt</c> (BERT WordPiece), a <c>spiece.model</c> (XLNet SentencePiece), a
    /// folder holding one of them, or a built-in model name (<c>minilm</c>).
    /// </summary>
    /// <param name="path">File, folder or built-in name.</param>
    /// <param name="lowercase">
    /// Override lower-casing. Default for WordPiece: <c>do_lower_case</c> from a <c>tokenizer_config.json</c> beside
    /// the vocabulary, else lower-case unless the folder is a cased release (its name contains <c>cased</c> but not
    /// <c>uncased</c>, e.g. <c>cased_L-12_H-768_A-12</c>, <c>multi_cased_…</c>). Default for XLNet: no lower-casing.
    /// </param>
    public static TextEncoder Load(string path, bool? lowercase = null) => TokenizerFiles.Load(path, lowercase);

    /// <summary>A BERT WordPiece encoder from the bytes of a <c>vocab.txt</c>.</summary>
    /// <param name="vocabulary">UTF-8 text, one token a line (LF or CRLF).</param>
    /// <param name="lowercase">Lower-case and strip accents (uncased models).</param>
    /// <param name="maxLength">Default maximum sequence length.</param>
    /// <param name="source">Name used in error messages.</param>
    public static TextEncoder FromWordPieceVocabulary(byte[] vocabulary, bool lowercase = true, int maxLength = DefaultMaxLength, string source = "vocab.txt") =>
        new BertWordPiece(WordPieceVocabulary.Parse(vocabulary, source), lowercase, maxLength);

    /// <summary>An XLNet SentencePiece encoder from the bytes of a <c>spiece.model</c>.</summary>
    /// <param name="model">The serialized SentencePiece ModelProto (unigram).</param>
    /// <param name="lowercase">Lower-case before SentencePiece (<c>do_lower_case</c>; released XLNet models are cased).</param>
    /// <param name="keepAccents">Keep accents (otherwise NFKD and combining marks dropped, as XLNet does by default).</param>
    /// <param name="maxLength">Default maximum sequence length.</param>
    /// <param name="source">Name used in error messages.</param>
    public static TextEncoder FromSentencePieceModel(byte[] model, bool lowercase = false, bool keepAccents = false, int maxLength = DefaultMaxLength, string source = "spiece.model") =>
        new XLNetSentencePiece(model, lowercase, keepAccents, maxLength, source);

    internal abstract void Tokenize(string text, List<TokenPiece> output);

    internal abstract int SpecialTokenCount(bool pair);

    internal abstract void Layout(List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output);

    /// <summary>The single-text layout's ids only, written into <paramref name="ids"/>; returns the count.</summary>
    internal abstract int LayoutIds(List<TokenPiece> pieces, Span<int> ids);

    // Google's _truncate_seq_pair / Hugging Face's longest_first: drop the last token of the longer side, one at a time.
    private static bool Truncate(List<TokenPiece> first, List<TokenPiece>? second, int budget)
    {
        int total = first.Count + (second?.Count ?? 0);
        if (total <= budget) return false;
        if (second is null)
        {
            first.RemoveRange(budget, first.Count - budget);
            return true;
        }
        int a = first.Count, b = second.Count;
        while (a + b > budget)
        {
            if (a > b) a--;
            else b--;
        }
        first.RemoveRange(a, first.Count - a);
        second.RemoveRange(b, second.Count - b);
        return true;
    }
}

/// <summary>Collects the laid-out sequence (pieces and special tokens) into the arrays of an <see cref="EncodedText"/>.</summary>
internal sealed class SequenceWriter(int capacity)
{
    private readonly string[] _tokens = new string[capacity];
    private readonly int[] _ids = new int[capacity];
    private readonly int[] _types = new int[capacity];
    private readonly TokenOffset[] _offsets = new TokenOffset[capacity];
    private readonly bool[] _special = new bool[capacity];
    private readonly int[] _sequences = new int[capacity];
    private int _count;

    public void Special(int id, string token, int typeId)
    {
        _sequences[_count] = -1;
        _tokens[_count] = token;
        _ids[_count] = id;
        _types[_count] = typeId;
        _special[_count] = true;
        _count++;
    }

    /// <param name="pieces">One text's pieces.</param>
    /// <param name="typeId">Their token type.</param>
    /// <param name="sequence">Which text they are (0 first, 1 pair); null = the token type.</param>
    public void Pieces(List<TokenPiece> pieces, int typeId, int? sequence = null)
    {
        foreach (var piece in pieces)
        {
            _sequences[_count] = sequence ?? typeId;
            _tokens[_count] = piece.Token;
            _ids[_count] = piece.Id;
            _types[_count] = typeId;
            _offsets[_count] = new TokenOffset(piece.Start, piece.Length);
            _count++;
        }
    }

    public EncodedText Finish(bool truncated)
    {
        if (_count != _ids.Length) throw new InvalidOperationException($"layout wrote {_count} of {_ids.Length} tokens");
        return new EncodedText(_tokens, _ids, _types, _offsets, _special, truncated, _sequences);
    }
}
