using KeyEmbed.Tokenization;

namespace KeyEmbed;

/// <summary>
/// A text tokenized once by one <see cref="KeyEmbedModel"/> (<see cref="KeyEmbedModel.Prepare"/>): what it costs and
/// how much of it the vocabulary knows are known before the model runs, and
/// <see cref="KeyEmbedModel.EmbedPrepared"/> lays its windows out
/// from the same pieces. Immutable; only the model that prepared it can embed it.
/// </summary>
public sealed class PreparedText
{
    internal PreparedText(string text, int tokens, double unknownShare, IReadOnlyList<TokenPiece> pieces, KeyEmbedModel model)
    {
        Text = text;
        Tokens = tokens;
        UnknownShare = unknownShare;
        Pieces = pieces;
        Model = model;
    }

    /// <summary>The text.</summary>
    public string Text { get; }

    /// <summary>Tokens the model sees for it with long-text windows (every window or segment, special tokens included).</summary>
    public int Tokens { get; }

    /// <summary>The share (0..1) of its first window's tokens, special tokens aside, the vocabulary does not know (<see cref="TextEncoder.UnknownShare(string)"/>).</summary>
    public double UnknownShare { get; }

    internal IReadOnlyList<TokenPiece> Pieces { get; }

    internal KeyEmbedModel Model { get; }
}
