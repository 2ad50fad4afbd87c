using System.Text.Json;
using KeyEmbed.Architectures;
using KeyEmbed.Embedding;
using KeyEmbed.Models;
using KeyEmbed.Runtime;
using KeyEmbed.Similarity;
using KeyEmbed.Tokenization;

namespace KeyEmbed;

/// <summary>How <see cref="KeyEmbedModel.Load"/> sets a model up.</summary>
public sealed record KeyEmbedModelOptions
{
    /// <summary>ONNX Runtime intra-op threads; 0 = the machine's cores.</summary>
    public int Threads { get; init; }

    /// <summary>Override the tokenizer's lower-casing (null = what the model's files say).</summary>
    public bool? Lowercase { get; init; }

    /// <summary>
    /// Longest window in tokens, special tokens included (null = the model's maximum; 512 for XLNet). A longer BERT text
    /// is embedded by windows of this length; a longer XLNet text runs as segments of this length with memory.
    /// </summary>
    public int? MaxSequenceLength { get; init; }

    /// <summary>Cache built graphs on disk (see docs/cache.md). On by default.</summary>
    public bool UseGraphCache { get; init; } = true;

    /// <summary>
    /// Size cap in bytes of the graph cache folder; least recently used graphs are deleted past it (null = the
    /// <c>KEYEMBED_CACHE_MAX</c> environment variable, else 4 GiB; see docs/cache.md).
    /// </summary>
    public long? GraphCacheBytes { get; init; }

    /// <summary>Most padded tokens (rows × longest row) in one model run.</summary>
    public int TokenBudget { get; init; } = 8192;

    /// <summary>Most texts in one model run.</summary>
    public int MaxBatchSize { get; init; } = 64;

    /// <summary>
    /// How many batches of one call run at once, each on its own share of the <see cref="Threads"/> (0, the default =
    /// one per thread, each single-threaded; 1 = one batch after another, every thread on each). A call that fits one
    /// batch (a single keyword) always gets every thread. Several single-threaded runs measured faster than one run
    /// spread over the cores (docs/performance.md).
    /// </summary>
    public int BatchWorkers { get; init; }

    /// <summary>
    /// Arithmetic of the encoder's linear layers (BERT models). <see cref="Architectures.ComputePrecision.Int8"/> is
    /// opt-in: faster, with every vector at cosine ≥ 0.99 to the float32 one (measured on the STS sentences, see docs/performance.md).
    /// </summary>
    public Architectures.ComputePrecision ComputePrecision { get; init; } = Architectures.ComputePrecision.Float32;

    /// <summary>
    /// Bound in bytes of the cache of recent embeddings keyed by (options, text) that <see cref="KeyEmbedModel.Embed(IReadOnlyList{string}, EmbeddingOptions?, IProgress{int}?, CancellationToken)"/>
    /// consults first (least recently used entries go first; a 384-wide vector costs about 1.8 KB); 0 turns it off.
    /// Default 32 MiB.
    /// </summary>
    public long CacheBytes { get; init; } = 32L << 20;

    /// <summary>Whether idle ONNX Runtime threads spin briefly before sleeping (lower latency, more CPU). On by default.</summary>
    public bool AllowSpinning { get; init; } = true;

    // Which graph form runs (null = the measured default, see docs/performance.md: the plain ONNX graph, which ORT's
    // own optimizer fuses in part and which measured fastest on 2 cores, in float32 and in int8).
    internal bool? FusedOperators { get; init; }

    internal bool? FusedAttention { get; init; }

    // How int8 linear layers are written for ONNX Runtime (docs/performance.md, "int8 forms"); the static forms need
    // a calibration.
    internal Architectures.Int8Form Int8Form { get; init; }

    internal Architectures.Int8Calibration? Int8Calibration { get; init; }

    // Most rows × longest row² per batch (each attention head's scores; null = no such limit): long texts in small
    // batches (docs/performance.md, "Long texts").
    internal long? ScoreBudget { get; init; } = BatchLimits.DefaultScoreBudget;
}

/// <summary>Facts about a loaded model.</summary>
/// <param name="Name">What the user passed (<c>minilm</c>, a folder, a file).</param>
/// <param name="Architecture">The architecture's registry name (<c>bert</c>, <c>xlnet</c>, …).</param>
/// <param name="Layers">Transformer layers L (hidden states 0..L).</param>
/// <param name="HiddenSize">Width of each hidden state.</param>
/// <param name="MaxTokens">Longest window in tokens, special tokens included.</param>
/// <param name="Format">Checkpoint format the weights came from.</param>
public sealed record ModelInfo(string Name, string Architecture, int Layers, int HiddenSize, int MaxTokens, string Format)
{
    /// <summary>How a text longer than <see cref="MaxTokens"/> is embedded (windows averaged, or segments with memory).</summary>
    public LongTextStrategy LongText { get; init; }
}

/// <summary>Vectors for a list of texts, in the caller's order.</summary>
/// <param name="Vectors">One float32 vector per text (before any quantization).</param>
/// <param name="Tokens">Tokens the model saw per text, special tokens included.</param>
/// <param name="Windows">
/// Windows per text: 1 when it fit the model's window; more when a long text was longer: BERT embeds it by windows
/// and averages them, XLNet runs it as that many segments with memory (segment recurrence) and pools over all its tokens.
/// </param>
/// <param name="Options">The concrete options used (layers, pooling, normalization, width).</param>
public sealed record EmbeddingResult(float[][] Vectors, int[] Tokens, int[] Windows, ResolvedEmbeddingOptions Options)
{
    /// <summary>How many texts were longer than the model's window (embedded by windows or segments).</summary>
    public int WindowedCount => Windows.Count(w => w > 1);
}

/// <summary>One token's vector with the token and where it sits in the text.</summary>
/// <param name="Token">The token piece.</param>
/// <param name="Id">Its vocabulary id.</param>
/// <param name="Start">UTF-16 start offset in the text (special tokens: 0).</param>
/// <param name="Length">Length in UTF-16 code units (special tokens: 0).</param>
/// <param name="Special">Whether it is a special token such as <c>[CLS]</c>.</param>
/// <param name="Vector">Its vector.</param>
public sealed record TokenEmbedding(string Token, int Id, int Start, int Length, bool Special, float[] Vector);

/// <summary>Token-level output of one text.</summary>
/// <param name="Tokens">The kept tokens with their vectors.</param>
/// <param name="Truncated">Whether the text was cut to the model's window.</param>
public sealed record TokenLevelEmbeddings(IReadOnlyList<TokenEmbedding> Tokens, bool Truncated);

/// <summary>
/// The one object a user holds: a loaded BERT or XLNet model with its tokenizer, ready to embed texts, compare
/// them and rank keywords. Safe to use from several threads.
/// </summary>
public sealed class KeyEmbedModel : IDisposable
{
    private readonly LoadedModel _model;
    private readonly Lazy<TextEncoder> _encoder;
    private readonly Lazy<EmbeddingPipeline> _pipeline;
    private readonly EmbeddingCache? _cache;
    private volatile bool _disposed;

    private KeyEmbedModel(LoadedModel model, KeyEmbedModelOptions options, string name)
    {
        _model = model;
        var architecture = model.Architecture;
        int maxTokens = options.MaxSequenceLength ?? architecture.MaxSequenceLength ?? TextEncoder.DefaultMaxLength;
        if (architecture.MaxSequenceLength is { } limit && maxTokens > limit)
            throw KeyEmbedException.Input($"max sequence length {maxTokens} is beyond the model's {limit} positions");
        Info = new ModelInfo(name, architecture.Name, architecture.LayerCount, architecture.HiddenSize, maxTokens,
            model.Files.Format.ToString().ToLowerInvariant()) { LongText = architecture.LongText };
        Defaults = ReadDefaults(model.Files, architecture);
        _encoder = new Lazy<TextEncoder>(() => model.LoadTokenizer(options.Lowercase).WithMaxLength(maxTokens));
        // A tokenizer beside the weights is checked against the model now (ids beyond the vocabulary refused at load);
        // the built-in one is known to fit, and a folder without one still runs ids (hidden states).
        if (model.Files.BuiltInName is null && (model.Files.VocabPath ?? model.Files.SentencePiecePath ?? model.Files.BpeVocabPath) is not null) _ = _encoder.Value;
        var settings = new SessionSettings { Threads = options.Threads, AllowSpinning = options.AllowSpinning };
        var cache = options.UseGraphCache ? new GraphCache(maxBytes: options.GraphCacheBytes) : null;
        ComputePrecision = options.ComputePrecision;
        _cache = options.CacheBytes > 0 ? new EmbeddingCache(options.CacheBytes) : null;
        _pipeline = new Lazy<EmbeddingPipeline>(() => new EmbeddingPipeline(
            model, _encoder.Value, settings, cache, new BatchLimits(options.TokenBudget, options.MaxBatchSize, options.BatchWorkers, options.ScoreBudget), options.ComputePrecision,
            options.FusedOperators ?? false,
            options.FusedAttention ?? false, options.Int8Form, options.Int8Calibration));
    }

    /// <summary>
    /// Loads a model: a folder (BERT or XLNet; TensorFlow, safetensors, PyTorch or ONNX files), an <c>.onnx</c>
    /// file, or a built-in name (<c>minilm</c>, the default when <paramref name="model"/> is null).
    /// </summary>
    public static KeyEmbedModel Load(string? model = null, KeyEmbedModelOptions? options = null)
    {
        options ??= new KeyEmbedModelOptions();
        if (options.TokenBudget < 1) throw KeyEmbedException.Input($"token budget must be at least 1 (got {options.TokenBudget})");
        if (options.MaxBatchSize < 1) throw KeyEmbedException.Input($"batch size must be at least 1 (got {options.MaxBatchSize})");
        if (options.CacheBytes < 0) throw KeyEmbedException.Input($"cache size must be 0 (off) or more bytes (got {options.CacheBytes})");
        if (options.BatchWorkers < 0) throw KeyEmbedException.Input($"batch workers must be 0 (one per thread) or more (got {options.BatchWorkers})");
        if (options.Threads < 0) throw KeyEmbedException.Input($"threads must be 0 (all cores) or more (got {options.Threads})");
        var loaded = LoadedModel.Open(model);
        try { return new KeyEmbedModel(loaded, options, model ?? BuiltInModels.Default); }
        catch { loaded.Dispose(); throw; }
    }

    /// <summary>Facts about the model.</summary>
    public ModelInfo Info { get; }

    /// <summary>The arithmetic of the encoder's linear layers this model runs with (<see cref="KeyEmbedModelOptions.ComputePrecision"/>).</summary>
    public Architectures.ComputePrecision ComputePrecision { get; }

    /// <summary>What the model declares (sentence-transformers config) or the classic recipe (layer -2, mean).</summary>
    public EmbeddingDefaults Defaults { get; }

    /// <summary>The model's tokenizer. Throws when the model folder has none (hidden states still work from ids).</summary>
    public TextEncoder Tokenizer => _encoder.Value;

    /// <summary>Checks options against this model and fills the open choices from <see cref="Defaults"/>.</summary>
    public ResolvedEmbeddingOptions Resolve(EmbeddingOptions? options = null) =>
        (options ?? EmbeddingOptions.Default).Resolve(Defaults, Info.Layers, Info.HiddenSize);

    /// <summary>
    /// Embeds texts (one vector each, in the caller's order). Sorting by length and batching happen inside;
    /// <paramref name="progress"/> receives the number of texts done. A text longer than the model's window is handled
    /// as <see cref="EmbeddingOptions.LongText"/> says: by default a BERT text is cut into windows whose vectors are
    /// averaged, and an XLNet text runs as consecutive segments, each attending to the memory of the ones before, pooled
    /// over all its tokens (see <see cref="EmbeddingResult.Windows"/>); or it is cut to the first window, or refused.
    /// </summary>
    public EmbeddingResult Embed(IReadOnlyList<string> texts, EmbeddingOptions? options = null, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Embed(texts, null, options, progress, cancellation);
    }

    /// <summary>
    /// Tokenizes <paramref name="text"/> once for this model: its token count and unknown-token share are known at
    /// once, and <see cref="EmbedPrepared"/> embeds it without tokenizing it
    /// again (the service counts, checks and queues a request's texts this way). Thread-safe.
    /// </summary>
    public PreparedText Prepare(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var pipeline = _pipeline.Value;
        var pieces = pipeline.Encoder.Pieces(text);
        return new PreparedText(text, pipeline.CountTokens(pieces), pipeline.Encoder.UnknownShare(pieces), pieces, this);
    }

    /// <summary>
    /// <see cref="Embed(IReadOnlyList{string}, EmbeddingOptions?, IProgress{int}?, CancellationToken)"/> of texts this
    /// model <see cref="Prepare"/>d: the same vectors, without tokenizing again.
    /// </summary>
    public EmbeddingResult EmbedPrepared(IReadOnlyList<PreparedText> texts, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(texts);
        for (int i = 0; i < texts.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(texts[i], nameof(texts));
            if (!ReferenceEquals(texts[i].Model, this)) throw new ArgumentException($"text {i} was prepared by another model", nameof(texts));
        }
        return Embed([.. texts.Select(t => t.Text)], texts, options, null, default);
    }

    private EmbeddingResult Embed(IReadOnlyList<string> texts, IReadOnlyList<PreparedText>? prepared, EmbeddingOptions? options, IProgress<int>? progress, CancellationToken cancellation)
    {
        // A disposed ONNX Runtime session would crash the process, not throw.
        ObjectDisposedException.ThrowIf(_disposed, this);
        var plan = Resolve(options);
        if (plan.Pooling == PoolingMode.None)
            throw KeyEmbedException.Input("pooling 'none' gives token-level vectors; embed one text at a time with EmbedTokens", nameof(EmbeddingOptions.Pooling));
        if (texts.Count == 0) return new EmbeddingResult([], [], [], plan);
        var longText = (options ?? EmbeddingOptions.Default).LongText;
        if (longText == LongTextMode.Error) RefuseLongTexts(texts, prepared);
        bool truncate = longText == LongTextMode.Truncate;
        var pieces = prepared?.Select(p => p.Pieces).ToArray();
        var vectors = _cache is null
            ? _pipeline.Value.Embed(texts, plan, progress is null ? null : progress.Report, cancellation, truncate, pieces)
            : EmbedThroughCache(_cache, texts, pieces, plan, progress, cancellation, truncate);
        return new EmbeddingResult([.. vectors.Select(v => v.Vector)], [.. vectors.Select(v => v.Tokens)], [.. vectors.Select(v => v.Windows)], plan);
    }

    private void RefuseLongTexts(IReadOnlyList<string> texts, IReadOnlyList<PreparedText>? prepared)
    {
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw KeyEmbedException.Input($"text {i} is null");
            int tokens = prepared?[i].Tokens ?? CountTokens(texts[i]);
            if (tokens > Info.MaxTokens)
                throw KeyEmbedException.Input(
                    $"text {i} has {tokens} tokens and the model's window is {Info.MaxTokens}; with long-text 'error' it is refused: shorten it, or choose long-text 'windows' (the whole text) or 'truncate' (the first window)");
        }
    }

    // Texts seen recently under the same options come from the cache; only the others reach the model.
    private PipelineVector[] EmbedThroughCache(EmbeddingCache cache, IReadOnlyList<string> texts, IReadOnlyList<IReadOnlyList<TokenPiece>>? pieces,
        ResolvedEmbeddingOptions plan, IProgress<int>? progress, CancellationToken cancellation, bool truncate)
    {
        // A text cut to the window is another answer than the same text by windows: another key.
        string key = EmbeddingCache.OptionsKey(plan) + (truncate ? "; truncated" : "");
        var result = new PipelineVector[texts.Count];
        var missing = new List<int>();
        for (int i = 0; i < texts.Count; i++)
        {
            if (texts[i] is null) throw KeyEmbedException.Input($"text {i} is null");
            if (cache.TryGet(key, texts[i], out var hit)) result[i] = new PipelineVector(hit.Vector, hit.Tokens, hit.Windows);
            else missing.Add(i);
        }
        int hits = texts.Count - missing.Count;
        if (missing.Count > 0)
        {
            var computed = _pipeline.Value.Embed([.. missing.Select(i => texts[i])], plan,
                progress is null ? null : done => progress.Report(hits + done), cancellation, truncate,
                pieces is null ? null : [.. missing.Select(i => pieces[i])]);
            for (int k = 0; k < missing.Count; k++)
            {
                result[missing[k]] = computed[k];
                cache.Add(key, texts[missing[k]], new CachedEmbedding(computed[k].Vector, computed[k].Tokens, computed[k].Windows));
            }
        }
        progress?.Report(texts.Count);
        return result;
    }

    /// <summary>Entries and estimated bytes in the embedding cache (zeros when it is off).</summary>
    internal (int Entries, long Bytes, long Hits, long Misses) CacheStatistics =>
        _cache is null ? (0, 0, 0, 0) : (_cache.Count, _cache.Bytes, _cache.Hits, _cache.Misses);

    /// <summary>Token-level vectors of one text with tokens and character offsets (cut to the model's window).</summary>
    public TokenLevelEmbeddings EmbedTokens(string text, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        return EmbedTokens(text, null, options);
    }

    /// <summary><see cref="EmbedTokens(string, EmbeddingOptions?)"/> of a text this model <see cref="Prepare"/>d, without tokenizing it again.</summary>
    public TokenLevelEmbeddings EmbedTokens(PreparedText text, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!ReferenceEquals(text.Model, this)) throw new ArgumentException("the text was prepared by another model", nameof(text));
        return EmbedTokens(text.Text, text.Pieces, options);
    }

    private TokenLevelEmbeddings EmbedTokens(string text, IReadOnlyList<TokenPiece>? pieces, EmbeddingOptions? options)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var plan = Resolve((options ?? EmbeddingOptions.Default) with { Pooling = PoolingMode.None });
        var (encoded, indexes, vectors) = _pipeline.Value.EmbedTokens(text, plan, pieces);
        var tokens = new TokenEmbedding[indexes.Length];
        for (int k = 0; k < indexes.Length; k++)
        {
            int i = indexes[k];
            tokens[k] = new TokenEmbedding(encoded.Tokens[i], encoded.Ids[i], encoded.Offsets[i].Start, encoded.Offsets[i].Length,
                encoded.SpecialTokenMask[i], vectors[k]);
        }
        return new TokenLevelEmbeddings(tokens, encoded.Truncated);
    }

    /// <summary>Cosine similarity of every pair of texts, and of each text to the set (its mean vector and mean pairwise).</summary>
    public SimilarityMatrix Similarity(IReadOnlyList<string> texts, EmbeddingOptions? options = null) =>
        SimilarityMatrix.Compute(Embed(texts, options).Vectors);

    /// <summary>The <paramref name="top"/> candidates nearest to <paramref name="query"/> by cosine, best first.</summary>
    public IReadOnlyList<Neighbour> Nearest(string query, IReadOnlyList<string> candidates, int top = 5, EmbeddingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        if (top < 1) throw KeyEmbedException.Input($"top must be at least 1 (got {top})", nameof(KeywordOptions.Top));
        var vectors = Embed([query, .. candidates], options).Vectors;
        return NearestNeighbours.TopK(vectors[0], vectors[1..], top);
    }

    /// <summary>
    /// Keywords of a document (its n-grams or the given candidates) ranked by cosine to the document, optionally
    /// diversified (MMR). <paramref name="progress"/> counts the texts embedded so far: the document, then each of
    /// <see cref="KeywordCandidates"/>.
    /// </summary>
    public IReadOnlyList<Keyword> Keywords(string document, KeywordOptions? keywordOptions = null, EmbeddingOptions? options = null,
        IProgress<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        keywordOptions ??= new KeywordOptions();
        keywordOptions.Validate();
        return new KeywordExtractor(texts => Embed(texts, options, progress).Vectors).Extract(document, keywordOptions);
    }

    /// <summary>The phrases <see cref="Keywords"/> would rank for <paramref name="document"/> (no model run): to size progress, or to review.</summary>
    public IReadOnlyList<string> KeywordCandidates(string document, KeywordOptions? keywordOptions = null)
    {
        ArgumentNullException.ThrowIfNull(document);
        keywordOptions ??= new KeywordOptions();
        keywordOptions.Validate();
        return KeywordExtractor.CandidatesFor(document, keywordOptions);
    }

    /// <summary>Tokens <see cref="Embed(IReadOnlyList{string}, EmbeddingOptions?, IProgress{int}?, CancellationToken)"/> would report for <paramref name="text"/> (all windows or segments), without running the model.</summary>
    public int CountTokens(string text) => _pipeline.Value.CountTokens(text);

    /// <summary>
    /// Embeds <paramref name="texts"/> under several option sets with one model run per batch (every layer any set
    /// needs comes from the same run); result[i][t] is text t's vector under options[i]. Used by <c>eval sweep</c>.
    /// </summary>
    public float[][][] EmbedUnderEach(IReadOnlyList<string> texts, IReadOnlyList<EmbeddingOptions> options, IProgress<int>? progress = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        ArgumentNullException.ThrowIfNull(options);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var plans = options.Select(o => Resolve(o)).ToArray();
        if (plans.Any(p => p.Pooling == PoolingMode.None))
            throw KeyEmbedException.Input("pooling 'none' gives token-level vectors; a sweep needs one vector per text", nameof(EmbeddingOptions.Pooling));
        if (plans.Length == 0 || texts.Count == 0) return [.. plans.Select(_ => Array.Empty<float[]>())];
        // One model run serves every option set, so they share one long-text mode.
        var longText = options[0].LongText;
        if (options.Any(o => o.LongText != longText)) throw new ArgumentException("every option set of a sweep needs the same long-text mode", nameof(options));
        if (longText == LongTextMode.Error) RefuseLongTexts(texts, null);
        var vectors = _pipeline.Value.Embed(texts, plans, progress is null ? null : progress.Report, cancellation, longText == LongTextMode.Truncate);
        return [.. vectors.Select(perPlan => perPlan.Select(v => v.Vector).ToArray())];
    }

    internal LoadedModel Loaded => _model;

    internal EmbeddingPipeline Pipeline => _pipeline.Value;

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_pipeline.IsValueCreated) _pipeline.Value.Dispose();
        _model.Dispose();
    }

    // sentence-transformers declares its chain in modules.json (Transformer → Pooling → Normalize) and its pooling in
    // 1_Pooling/config.json; a raw checkpoint gets the classic recipe (second-to-last layer, mean).
    private static EmbeddingDefaults ReadDefaults(ModelFiles files, IEncoderArchitecture architecture)
    {
        var raw = architecture.RawDefaults;
        if (files.BuiltInName is not null) return EmbeddingDefaults.SentenceTransformersMean;
        if (files.PoolingConfigPath is null && files.ModulesPath is null) return raw;
        var pooling = PoolingMode.Mean;
        if (files.PoolingConfigPath is { } poolingPath)
        {
            try
            {
                using var doc = KeyEmbed.IO.StrictJson.Parse(File.ReadAllBytes(poolingPath));
                bool Flag(string key) => doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.True;
                pooling = Flag("pooling_mode_cls_token") ? raw.ClsPooling
                    : Flag("pooling_mode_max_tokens") && Flag("pooling_mode_mean_tokens") ? PoolingMode.MeanMax
                    : Flag("pooling_mode_max_tokens") ? PoolingMode.Max
                    : Flag("pooling_mode_lasttoken") ? PoolingMode.LastReal
                    : PoolingMode.Mean;
            }
            catch (JsonException e) { throw KeyEmbedException.Checkpoint(poolingPath, $"not valid JSON: {e.Message}", e); }
        }
        bool normalize = files.ModulesPath is { } modules && File.ReadAllText(modules).Contains("Normalize", StringComparison.Ordinal);
        return new EmbeddingDefaults([-1], pooling, normalize, raw.ClsPooling);
    }
}
