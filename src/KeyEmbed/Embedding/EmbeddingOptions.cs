using System.Globalization;

namespace KeyEmbed.Embedding;

/// <summary>How several selected layers become one hidden state per token.</summary>
public enum LayerMode
{
    /// <summary>Element-wise sum (the classic "sum of the last four layers" recipe). Width stays H.</summary>
    Sum,
    /// <summary>Element-wise mean. Width stays H.</summary>
    Mean,
    /// <summary>Concatenation in the order the layers were given. Width becomes H × layers.</summary>
    Concat,
}

/// <summary>How the token vectors of one text become one vector.</summary>
public enum PoolingMode
{
    /// <summary>Mean over real (unpadded) tokens, as sentence-transformers does.</summary>
    Mean,
    /// <summary>Element-wise maximum over real tokens.</summary>
    Max,
    /// <summary>Mean and max, concatenated (width 2 × H).</summary>
    MeanMax,
    /// <summary>The first real token (BERT's <c>[CLS]</c>).</summary>
    First,
    /// <summary>The last real token (XLNet's <c>&lt;cls&gt;</c>, which sits at the end of the sequence).</summary>
    LastReal,
    /// <summary>The model's classification token: <see cref="First"/> for BERT, <see cref="LastReal"/> for XLNet.</summary>
    Cls,
    /// <summary>No pooling: one vector per token.</summary>
    None,
}

/// <summary>The storage form of output vectors.</summary>
public enum VectorPrecision
{
    /// <summary>32-bit floats, as computed.</summary>
    Float32,
    /// <summary>Signed bytes with one scale per vector (value ≈ byte × scale).</summary>
    Int8,
    /// <summary>One sign bit per dimension (1 when the value is positive), packed eight to a byte, first dimension in the high bit.</summary>
    Binary,
}

/// <summary>What happens to a text longer than the model's window (512 tokens for BERT-base).</summary>
public enum LongTextMode
{
    /// <summary>The whole text counts: the architecture's long-text strategy (BERT-like models average the vectors of
    /// consecutive windows; XLNet runs the windows as segments with memory and pools over all tokens).</summary>
    Windows,
    /// <summary>Only the first window counts; the rest of the text is cut off (faster, and what most services do).</summary>
    Truncate,
    /// <summary>A text longer than the window is refused (<see cref="ErrorKind.InvalidInput"/>).</summary>
    Error,
}

/// <summary>
/// What the model declares (or the architecture's classic recipe) when a request leaves a choice open.
/// Raw BERT / XLNet checkpoints: layer -2, mean pooling, no normalization; sentence-transformers models: what
/// <c>modules.json</c> and <c>1_Pooling/config.json</c> say (for the built-in model: last layer, mean, normalized).
/// </summary>
/// <param name="Layers">Layer indexes (Python-style) used when the options give none.</param>
/// <param name="Pooling">Pooling used when the options give none.</param>
/// <param name="Normalize">Whether vectors are L2-normalized when the options do not say.</param>
/// <param name="ClsPooling">What <see cref="PoolingMode.Cls"/> means for this model: First (BERT) or LastReal (XLNet).</param>
public sealed record EmbeddingDefaults(
    IReadOnlyList<int> Layers,
    PoolingMode Pooling = PoolingMode.Mean,
    bool Normalize = false,
    PoolingMode ClsPooling = PoolingMode.First)
{
    /// <summary>The classic recipe for a raw BERT checkpoint: second-to-last layer, mean pooling, not normalized.</summary>
    public static EmbeddingDefaults RawBert { get; } = new([-2], PoolingMode.Mean, false, PoolingMode.First);

    /// <summary>The classic recipe for a raw XLNet checkpoint: second-to-last layer, mean pooling, not normalized, cls at the end.</summary>
    public static EmbeddingDefaults RawXLNet { get; } = new([-2], PoolingMode.Mean, false, PoolingMode.LastReal);

    /// <summary>What a sentence-transformers mean-pooling model declares: last layer, mean pooling, normalized.</summary>
    public static EmbeddingDefaults SentenceTransformersMean { get; } = new([-1], PoolingMode.Mean, true, PoolingMode.First);
}

/// <summary>
/// What to compute for each text: which layers, how they combine, how tokens are pooled, and the output form.
/// Every property left null takes the model's default (<see cref="EmbeddingDefaults"/>).
/// </summary>
public sealed record EmbeddingOptions
{
    /// <summary>Everything from the model's defaults.</summary>
    public static EmbeddingOptions Default { get; } = new();

    /// <summary>
    /// Hidden-state indexes, Python-style over <c>hidden_states.0..L</c>: 0 = embedding output, L = last layer,
    /// -1 = last layer, -2 = second-to-last, -(L+1) = embedding output. Null = the model's default.
    /// </summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>How several layers combine (sum by default). Ignored for a single layer.</summary>
    public LayerMode LayerMode { get; init; } = LayerMode.Sum;

    /// <summary>How tokens are pooled; null = the model's default (mean for every model KeyEmbed ships).</summary>
    public PoolingMode? Pooling { get; init; }

    /// <summary>Leave special tokens (<c>[CLS]</c>, <c>[SEP]</c>, <c>&lt;sep&gt;</c>, <c>&lt;cls&gt;</c>) out of mean/max pooling and token output.</summary>
    public bool ExcludeSpecialTokens { get; init; }

    /// <summary>L2-normalize each output vector; null = the model's default.</summary>
    public bool? Normalize { get; init; }

    /// <summary>Keep only the first N dimensions (Matryoshka-style; renormalized afterwards when normalizing). Null = all.</summary>
    public int? Dimensions { get; init; }

    /// <summary>Storage form of the output vectors.</summary>
    public VectorPrecision Precision { get; init; } = VectorPrecision.Float32;

    /// <summary>What happens to a text longer than the model's window (the whole text counts by default).</summary>
    public LongTextMode LongText { get; init; } = LongTextMode.Windows;

    /// <summary>
    /// Checks the options against a model with <paramref name="layerCount"/> transformer layers and hidden width
    /// <paramref name="hiddenSize"/>, fills the open choices from <paramref name="defaults"/>, and returns the
    /// concrete plan. Throws <see cref="KeyEmbedException"/> (<see cref="ErrorKind.InvalidInput"/>) naming the option
    /// and its valid range.
    /// </summary>
    public ResolvedEmbeddingOptions Resolve(EmbeddingDefaults defaults, int layerCount, int hiddenSize)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        if (layerCount < 0) throw new ArgumentOutOfRangeException(nameof(layerCount));
        if (hiddenSize <= 0) throw new ArgumentOutOfRangeException(nameof(hiddenSize));
        if (!Enum.IsDefined(LayerMode))
            throw KeyEmbedException.Input($"layer mode {(int)LayerMode} is not one of sum, mean, concat", nameof(LayerMode));
        if (!Enum.IsDefined(Precision))
            throw KeyEmbedException.Input($"precision {(int)Precision} is not one of float32, int8, binary", nameof(Precision));
        if (!Enum.IsDefined(LongText))
            throw KeyEmbedException.Input($"long-text {(int)LongText} is not one of {LongTextNames}", nameof(LongText));

        var requested = Layers ?? defaults.Layers;
        if (requested.Count == 0)
            throw KeyEmbedException.Input($"layers: give at least one layer index (valid: {LayerSelection.RangeText(layerCount)})", nameof(Layers));
        int[] layers = LayerSelection.Resolve(requested, layerCount);

        var pooling = Pooling ?? defaults.Pooling;
        if (!Enum.IsDefined(pooling))
            throw KeyEmbedException.Input($"pooling {(int)pooling} is not one of {PoolingNames}", nameof(Pooling));
        if (pooling == PoolingMode.Cls) pooling = defaults.ClsPooling;
        if (pooling is PoolingMode.Cls) throw new ArgumentException("EmbeddingDefaults.ClsPooling must be First or LastReal", nameof(defaults));
        if (ExcludeSpecialTokens && pooling is PoolingMode.First or PoolingMode.LastReal)
            throw KeyEmbedException.Input(
                $"exclude-special-tokens cannot be combined with pooling '{FormatPooling(pooling)}', which picks a special token by design; use mean, max, mean-max or none", nameof(ExcludeSpecialTokens));

        int layerWidth = LayerMode == LayerMode.Concat ? hiddenSize * layers.Length : hiddenSize;
        int fullWidth = pooling == PoolingMode.MeanMax ? layerWidth * 2 : layerWidth;
        if (Dimensions is { } d && (d < 1 || d > fullWidth))
            throw KeyEmbedException.Input($"dimensions must be between 1 and {fullWidth} for these options (got {d})", nameof(Dimensions));

        return new ResolvedEmbeddingOptions(
            layers, layers.Length == 1 ? LayerMode.Sum : LayerMode, pooling, ExcludeSpecialTokens,
            Normalize ?? defaults.Normalize, Dimensions ?? fullWidth, fullWidth, Precision);
    }

    /// <summary>The pooling names <see cref="ParsePooling"/> accepts, for help texts and error messages.</summary>
    public const string PoolingNames = "mean, max, mean-max, first, last, cls, none";

    /// <summary>
    /// Parses a comma-separated layer list such as <c>-2,-1</c> or <c>-4,-3,-2,-1</c>. Throws
    /// <see cref="KeyEmbedException"/> naming the bad item.
    /// </summary>
    public static IReadOnlyList<int> ParseLayers(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out result[i])) continue;
            result[i] = KerasBertLayer(parts[i]) ?? throw KeyEmbedException.Input(
                $"layers: '{parts[i]}' is not an integer; give comma-separated indexes such as -2 or -4,-3,-2,-1 (or keras-bert layer names such as Encoder-11,Encoder-12)", nameof(Layers));
        }
        return result;
    }

    /// <summary>
    /// keras-bert's layer names, 1-based over the transformer layers: <c>Encoder-K</c> (any suffix, such as
    /// <c>Encoder-12-FeedForward-Norm</c>) is layer K's output, hidden state K; <c>Embedding-Norm</c> (or
    /// <c>Embedding</c>) is the embedding output, hidden state 0. Null when <paramref name="name"/> is neither.
    /// </summary>
    public static int? KerasBertLayer(string name)
    {
        var match = System.Text.RegularExpressions.Regex.Match(name.Trim(), @"^(?:Encoder-(\d{1,4})(?:-[A-Za-z-]*)?|(Embedding)(?:-Norm)?)$",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        if (!match.Success) return null;
        if (match.Groups[2].Success) return 0;
        int layer = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return layer >= 1 ? layer : throw KeyEmbedException.Input($"layers: '{name}': keras-bert numbers its Encoder layers from 1", nameof(Layers));
    }

    /// <summary>Parses a pooling name (<see cref="PoolingNames"/>; also <c>meanmax</c>, <c>last-real</c>, <c>token</c>).</summary>
    public static PoolingMode ParsePooling(string text) => text.Trim().ToLowerInvariant() switch
    {
        "mean" or "avg" => PoolingMode.Mean,
        "max" => PoolingMode.Max,
        "mean-max" or "meanmax" or "mean_max" => PoolingMode.MeanMax,
        "first" => PoolingMode.First,
        "last" or "last-real" or "lastreal" => PoolingMode.LastReal,
        "cls" => PoolingMode.Cls,
        "none" or "token" or "tokens" => PoolingMode.None,
        _ => throw KeyEmbedException.Input($"pooling: '{text}' is not one of {PoolingNames}", nameof(Pooling)),
    };

    /// <summary>Parses a layer mode name: <c>sum</c>, <c>mean</c> or <c>concat</c>.</summary>
    public static LayerMode ParseLayerMode(string text) => text.Trim().ToLowerInvariant() switch
    {
        "sum" => LayerMode.Sum,
        "mean" or "avg" => LayerMode.Mean,
        "concat" or "cat" => LayerMode.Concat,
        _ => throw KeyEmbedException.Input($"layer-mode: '{text}' is not one of sum, mean, concat", nameof(LayerMode)),
    };

    /// <summary>Parses a precision name: <c>float32</c>, <c>int8</c> or <c>binary</c>.</summary>
    public static VectorPrecision ParsePrecision(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "f32" or "float" => VectorPrecision.Float32,
        "int8" or "i8" => VectorPrecision.Int8,
        "binary" or "bit" or "ubinary" => VectorPrecision.Binary,
        _ => throw KeyEmbedException.Input($"precision: '{text}' is not one of float32, int8, binary", nameof(Precision)),
    };

    /// <summary>The long-text mode names <see cref="ParseLongText"/> accepts.</summary>
    public const string LongTextNames = "windows, truncate, error";

    /// <summary>Parses a long-text mode name (<see cref="LongTextNames"/>).</summary>
    public static LongTextMode ParseLongText(string text) => text.Trim().ToLowerInvariant() switch
    {
        "windows" or "window" => LongTextMode.Windows,
        "truncate" => LongTextMode.Truncate,
        "error" => LongTextMode.Error,
        _ => throw KeyEmbedException.Input($"long-text: '{text}' is not one of {LongTextNames}", nameof(LongText)),
    };

    /// <summary>The name <see cref="ParseLongText"/> reads back.</summary>
    public static string FormatLongText(LongTextMode mode) => mode.ToString().ToLowerInvariant();

    /// <summary>The name <see cref="ParsePooling"/> reads back for a pooling mode.</summary>
    public static string FormatPooling(PoolingMode mode) => mode switch
    {
        PoolingMode.Mean => "mean",
        PoolingMode.Max => "max",
        PoolingMode.MeanMax => "mean-max",
        PoolingMode.First => "first",
        PoolingMode.LastReal => "last",
        PoolingMode.Cls => "cls",
        PoolingMode.None => "none",
        _ => mode.ToString(),
    };
}

/// <summary>
/// The concrete plan <see cref="EmbeddingOptions.Resolve"/> returns: absolute layer numbers, the pooling actually
/// used, and the widths before and after truncation.
/// </summary>
/// <param name="Layers">Absolute hidden-state numbers 0..L, in the order given.</param>
/// <param name="LayerMode">How they combine (Sum when there is one layer).</param>
/// <param name="Pooling">Concrete pooling (never <see cref="PoolingMode.Cls"/>).</param>
/// <param name="ExcludeSpecialTokens">Whether special tokens are masked out of pooling.</param>
/// <param name="Normalize">Whether vectors are L2-normalized (after truncation).</param>
/// <param name="Dimensions">Output width after truncation.</param>
/// <param name="FullDimensions">Width after layer combination and pooling, before truncation.</param>
/// <param name="Precision">Storage form.</param>
public sealed record ResolvedEmbeddingOptions(
    IReadOnlyList<int> Layers,
    LayerMode LayerMode,
    PoolingMode Pooling,
    bool ExcludeSpecialTokens,
    bool Normalize,
    int Dimensions,
    int FullDimensions,
    VectorPrecision Precision)
{
    /// <summary>The highest hidden state needed: the graph can be cut after this layer.</summary>
    public int HighestLayer => Layers.Max();

    /// <summary>The graph output names to request, e.g. <c>hidden_states.5</c>, one per distinct layer.</summary>
    public IReadOnlyList<string> OutputNames => [.. Layers.Distinct().Select(LayerSelection.OutputName)];
}
