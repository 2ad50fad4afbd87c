using System.Globalization;

namespace KeyEmbed.Tokenization;

/// <summary>
/// Watches how much of the texts a model's vocabulary does not know. A text whose tokens are mostly unknown
/// (Chinese on an English model: 机器学习 is <c>[UNK] [UNK] 学 [UNK]</c>) gets a vector that says little about it,
/// and texts made of the same unknown pieces all look alike (cosine ≈ 1). Nothing here changes a vector: the CLI
/// warns once per run, the service adds a warning (docs/embeddings.md "Unknown tokens").
/// </summary>
public sealed class UnknownTokens
{
    /// <summary>
    /// A text is flagged when at least this share of its tokens (special tokens aside) is unknown. English, code and
    /// emoji-free text on an English model stays far below it; a text in a script the vocabulary lacks is above it.
    /// </summary>
    public const double WarningShare = 0.25;

    private readonly object _gate = new();
    private int _texts;
    private string? _worst;
    private double _worstShare;

    /// <summary>Texts seen so far.</summary>
    public int Seen { get; private set; }

    /// <summary>Texts at or above <see cref="WarningShare"/>.</summary>
    public int Flagged => _texts;

    /// <summary>Measures each text with <paramref name="encoder"/>; returns how many were flagged by this call.</summary>
    public int Observe(TextEncoder encoder, IEnumerable<string> texts)
    {
        int flagged = 0;
        foreach (var text in texts)
        {
            double share = encoder.UnknownShare(text);
            if (share < WarningShare) Pass();
            else
            {
                Flag(text, share);
                flagged++;
            }
        }
        return flagged;
    }

    /// <summary>Records a text measured elsewhere as mostly unknown (<paramref name="share"/> ≥ <see cref="WarningShare"/>).</summary>
    public void Flag(string text, double share)
    {
        lock (_gate)
        {
            Seen++;
            _texts++;
            if (share > _worstShare || _worst is null) (_worst, _worstShare) = (text, share);
        }
    }

    /// <summary>Records a text measured elsewhere as fine.</summary>
    public void Pass()
    {
        lock (_gate) Seen++;
    }

    /// <summary>The warning for what was seen (null when nothing was flagged): how many texts, the worst, what to do.</summary>
    public string? Message()
    {
        lock (_gate)
        {
            if (_texts == 0) return null;
            string worst = _worst!.Length > 40 ? _worst[..40] + "…" : _worst;
            return $"{_texts} of {Seen} text{(Seen == 1 ? "" : "s")} {(_texts == 1 ? "is" : "are")} mostly unknown to this model's vocabulary " +
                $"(worst: '{worst}', {(_worstShare * 100).ToString("0", CultureInfo.InvariantCulture)}% unknown tokens); their vectors say little and look alike. " +
                "Use a model trained on their language (Chinese: docs/chinese.md, e.g. BAAI/bge-small-zh-v1.5)";
        }
    }
}
