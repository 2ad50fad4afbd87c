namespace KeyEmbed.Tokenization;

/// <summary>Where a token came from: <see cref="Start"/> and <see cref="Length"/> in UTF-16 units of the original text.</summary>
/// <param name="Start">Index of the first UTF-16 unit the token covers.</param>
/// <param name="Length">Number of UTF-16 units covered; 0 for special tokens, which come from no text.</param>
public readonly record struct TokenOffset(int Start, int Length)
{
    /// <summary>Index just past the covered text.</summary>
    public int End => Start + Length;
}

/// <summary>
/// One text (or text pair) as the model receives it: special tokens in place, no padding.
/// Offsets of tokens with <see cref="SequenceIds"/> 0 point into the first text, those with 1 into the pair text.
/// </summary>
public sealed class EncodedText
{
    internal EncodedText(string[] tokens, int[] ids, int[] typeIds, TokenOffset[] offsets, bool[] specialTokenMask, bool truncated, int[]? sequenceIds = null)
    {
        SequenceIds = sequenceIds ?? [.. typeIds.Select((t, i) => specialTokenMask[i] ? -1 : t)];
        Tokens = tokens;
        Ids = ids;
        TypeIds = typeIds;
        Offsets = offsets;
        SpecialTokenMask = specialTokenMask;
        Truncated = truncated;
    }

    /// <summary>The pieces as the vocabulary spells them (<c>##</c> continuations, <c>▁</c> word starts, special tokens).</summary>
    public IReadOnlyList<string> Tokens { get; }

    /// <summary>Vocabulary ids, special tokens included.</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>Segment (token type) ids: 0 first text, 1 pair text; XLNet's final <c>&lt;cls&gt;</c> has 2.</summary>
    public IReadOnlyList<int> TypeIds { get; }

    /// <summary>
    /// Which text each token came from: 0 the first, 1 the pair text, -1 a special token. Unlike <see cref="TypeIds"/>,
    /// it tells the sides apart for models of one token type (XLM-R).
    /// </summary>
    public IReadOnlyList<int> SequenceIds { get; }

    /// <summary>Character offsets of each token into the text it came from (see the class remarks).</summary>
    public IReadOnlyList<TokenOffset> Offsets { get; }

    /// <summary>True where the token is a special token added by the layout (<c>[CLS]</c>, <c>[SEP]</c>, <c>&lt;sep&gt;</c>, <c>&lt;cls&gt;</c>).</summary>
    public IReadOnlyList<bool> SpecialTokenMask { get; }

    /// <summary>True when the text (or pair) had more tokens than the maximum length allowed and was cut.</summary>
    public bool Truncated { get; }

    /// <summary>Number of tokens.</summary>
    public int Length => Ids.Count;
}

/// <summary>
/// A batch of encoded texts as dense row-major int64 arrays of shape [<see cref="BatchSize"/>, <see cref="SequenceLength"/>],
/// padded to the longest item on the model's padding side — ready to be a model's <c>input_ids</c>,
/// <c>attention_mask</c> and <c>token_type_ids</c>.
/// </summary>
public sealed class BatchEncoding
{
    internal BatchEncoding(IReadOnlyList<EncodedText> items, int sequenceLength, long[] inputIds, long[] attentionMask,
        long[] tokenTypeIds, Architectures.PaddingSide paddingSide)
    {
        Items = items;
        SequenceLength = sequenceLength;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        TokenTypeIds = tokenTypeIds;
        PaddingSide = paddingSide;
    }

    /// <summary>The encoded items, in input order (row i is item i).</summary>
    public IReadOnlyList<EncodedText> Items { get; }

    /// <summary>Number of rows.</summary>
    public int BatchSize => Items.Count;

    /// <summary>Columns: the longest item's length.</summary>
    public int SequenceLength { get; }

    /// <summary>Token ids, padding filled with the pad id.</summary>
    public long[] InputIds { get; }

    /// <summary>1 for a real token, 0 for padding.</summary>
    public long[] AttentionMask { get; }

    /// <summary>Segment ids; padding carries the model's pad segment id (BERT 0, XLNet 3).</summary>
    public long[] TokenTypeIds { get; }

    /// <summary>Which side padding went on (BERT right, XLNet left).</summary>
    public Architectures.PaddingSide PaddingSide { get; }

    /// <summary>Column of row <paramref name="row"/>'s first real token (non-zero only with left padding).</summary>
    public int FirstTokenColumn(int row) =>
        PaddingSide == Architectures.PaddingSide.Left ? SequenceLength - Items[row].Length : 0;

    /// <summary>The three arrays with their shape, keyed by the graph input names <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>.</summary>
    public IReadOnlyDictionary<string, Runtime.DenseTensor<long>> ToModelInputs()
    {
        long[] shape = [BatchSize, SequenceLength];
        return new Dictionary<string, Runtime.DenseTensor<long>>(StringComparer.Ordinal)
        {
            [Runtime.GraphNames.InputIds] = new(InputIds, shape),
            [Runtime.GraphNames.AttentionMask] = new(AttentionMask, shape),
            [Runtime.GraphNames.TokenTypeIds] = new(TokenTypeIds, shape),
        };
    }
}

/// <summary>One piece of tokenized text before the layout adds special tokens.</summary>
internal readonly record struct TokenPiece(int Id, string Token, int Start, int Length);
