using System.Collections.Concurrent;
using KeyEmbed.Architectures;
using KeyEmbed.Models;
using KeyEmbed.Runtime;
using KeyEmbed.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Embedding;

/// <summary>Batching limits of an <see cref="EmbeddingPipeline"/>.</summary>
/// <param name="TokenBudget">Most padded tokens (rows × longest row) in one model run.</param>
/// <param name="MaxBatchSize">Most rows in one model run.</param>
/// <param name="Workers">Batches of one call run at once, each on its own single-threaded ONNX Runtime run
/// (0 = one per intra-op thread; 1 = one batch after another on all threads). A call of one batch always runs on all threads.</param>
/// <param name="ScoreBudget">
/// Most rows × longest row² in one model run (each head's attention scores; null = no such limit). The default,
/// <see cref="DefaultScoreBudget"/>, leaves rows of up to 64 tokens as the token budget batches them and runs 256-token
/// rows two a batch, where their scores stay near the caches (docs/performance.md, "Long texts").
/// </param>
internal sealed record BatchLimits(int TokenBudget = 8192, int MaxBatchSize = 64, int Workers = 0, long? ScoreBudget = BatchLimits.DefaultScoreBudget)
{
    /// <summary>2 × 256²: two 256-token rows, eight of 128, 32 of 64 a batch.</summary>
    public const long DefaultScoreBudget = 2 * 256 * 256;
}

/// <summary>One text's vector and what happened on the way.</summary>
/// <param name="Vector">The pooled, truncated, normalized float32 vector.</param>
/// <param name="Tokens">Tokens the model saw for this text (all windows together), special tokens included.</param>
/// <param name="Windows">How many windows the text was cut into (1 = it fit the model).</param>
internal readonly record struct PipelineVector(float[] Vector, int Tokens, int Windows);

/// <summary>
/// The Transformer → Pooling → Normalize chain (sentence-transformers' module pipeline) for one model: tokenize,
/// sort by length and batch by a token budget, run the graph cut after the highest layer the plan needs, select
/// and combine layers, pool, truncate and normalize, and hand the vectors back in the caller's order.
/// BERT texts longer than the model's window are cut into consecutive windows whose vectors are averaged,
/// weighted by their token counts; an architecture with segment recurrence (XLNet) runs longer texts through it instead.
/// </summary>
internal sealed class EmbeddingPipeline : IDisposable
{
    private readonly LoadedModel _model;
    private readonly TextEncoder _encoder;
    private readonly SessionSettings _settings;
    private readonly GraphCache? _cache;
    private readonly BatchLimits _limits;
    private readonly ComputePrecision _precision;
    private readonly bool _fused;
    private readonly bool _fusedAttention;
    private readonly Int8Form _int8Form;
    private readonly Int8Calibration? _int8Calibration;
    private readonly ConcurrentDictionary<string, Lazy<EncoderSession>> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, Lazy<ISegmentRunner>> _runners = new();
    private readonly PrePackedWeightsContainer _prepackedWeights = new();
    private readonly int _threads;
    private readonly int _workers;

    public EmbeddingPipeline(LoadedModel model, TextEncoder encoder, SessionSettings settings, GraphCache? cache, BatchLimits limits,
        ComputePrecision precision = ComputePrecision.Float32, bool fusedOperators = true, bool fusedAttention = false,
        Int8Form int8Form = Int8Form.DynamicQuantizeMatMul, Int8Calibration? int8Calibration = null)
    {
        _int8Form = int8Form;
        _int8Calibration = int8Calibration;
        _fusedAttention = fusedAttention;
        _precision = precision;
        _fused = fusedOperators;
        _model = model;
        _encoder = encoder;
        _settings = settings with { SharedPrePackedWeights = _prepackedWeights };
        _cache = cache;
        _limits = limits;
        _threads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount;
        _workers = limits.Workers > 0 ? limits.Workers : _threads;
    }

    /// <summary>
    /// Embeds <paramref name="texts"/> under a resolved plan; <paramref name="onProgress"/> gets the number of texts finished so far.
    /// With <paramref name="truncate"/> a text longer than the window is cut to it (the service's contract) instead of
    /// running by windows or segments. <c>pieces</c>: the texts' pieces when already tokenized (<see cref="TextEncoder.Pieces"/>,
    /// same order); null = tokenize here.
    /// </summary>
    public PipelineVector[] Embed(IReadOnlyList<string> texts, ResolvedEmbeddingOptions plan, Action<int>? onProgress = null, CancellationToken cancellation = default,
        bool truncate = false, IReadOnlyList<IReadOnlyList<TokenPiece>>? pieces = null) =>
        Embed(texts, [plan], onProgress, cancellation, truncate, pieces)[0];

    /// <summary>
    /// Embeds <paramref name="texts"/> under several plans at once: the model runs once per batch with every layer any
    /// plan needs, and each plan's head reads its layers from that run (how <c>eval sweep</c> compares layers cheaply).
    /// </summary>
    public PipelineVector[][] Embed(IReadOnlyList<string> texts, IReadOnlyList<ResolvedEmbeddingOptions> plans, Action<int>? onProgress = null, CancellationToken cancellation = default,
        bool truncate = false, IReadOnlyList<IReadOnlyList<TokenPiece>>? pieces = null)
    {
        if (pieces is not null && pieces.Count != texts.Count) throw new ArgumentException("one piece list per text", nameof(pieces));
        if (plans.Any(p => p.Pooling == PoolingMode.None))
            throw new ArgumentException("token-level plans go through EmbedTokens", nameof(plans));

        // Flatten: every window of every text is one row; owner[i] says which text row i belongs to. An XLNet text
        // longer than the window is not cut into rows: it runs alone through segment recurrence (RunRecurrent).
        var rows = new List<EncodedText>(texts.Count);
        var owner = new List<int>(texts.Count);
        var recurrent = new List<(int Text, EncodedText Encoded)>();
        for (int t = 0; t < texts.Count; t++)
        {
            if (texts[t] is null) throw KeyEmbedException.Input($"text {t} is null");
            // Each text is tokenized once (or was, by the caller); its layouts are made from the pieces.
            var textPieces = pieces?[t] ?? _encoder.Pieces(texts[t]);
            if (truncate)
            {
                rows.Add(_encoder.EncodeSingle(textPieces, _encoder.MaxLength));
                owner.Add(t);
                continue;
            }
            if (UsesSegmentRecurrence)
            {
                var whole = _encoder.EncodeSingle(textPieces, int.MaxValue);
                if (whole.Length > _encoder.MaxLength)
                {
                    recurrent.Add((t, whole));
                    continue;
                }
                rows.Add(whole);
                owner.Add(t);
                continue;
            }
            foreach (var window in _encoder.EncodeWindows(textPieces))
            {
                rows.Add(window);
                owner.Add(t);
            }
        }

        var heads = plans.Select(p => new EmbeddingHead(p)).ToArray();
        var layers = plans.SelectMany(p => p.Layers).Distinct().Order().ToArray();
        // Mean pooling over the attention mask is done inside the graph when every plan wants it: only [B, H]
        // vectors leave ONNX Runtime, not [B, T, H] hidden states.
        bool poolInGraph = _model.Architecture.SupportsGraphPoolingAndInt8 && plans.All(p => p.Pooling == PoolingMode.Mean && !p.ExcludeSpecialTokens);
        var outputNames = layers.Select(k => poolInGraph ? GraphRequest.PooledOutputName(k) : LayerSelection.OutputName(k)).ToArray();
        bool needSpecialMask = plans.Any(p => p.ExcludeSpecialTokens);
        var segmented = new PipelineVector?[plans.Count][];
        for (int p = 0; p < plans.Count; p++) segmented[p] = new PipelineVector?[texts.Count];
        int totalUnits = rows.Count + recurrent.Count;
        int finishedUnits = 0;
        foreach (var (text, encoded) in recurrent)
        {
            cancellation.ThrowIfCancellationRequested();
            var vectors = RunRecurrent(encoded, layers, heads, out int segmentCount);
            for (int p = 0; p < plans.Count; p++) segmented[p][text] = new PipelineVector(vectors[p], encoded.Length, segmentCount);
            finishedUnits++;
            onProgress?.Invoke((int)((long)finishedUnits * texts.Count / totalUnits));
        }
        if (rows.Count == 0) return [.. segmented.Select(s => s.Select(v => v!.Value).ToArray())];
        var rowVectors = new float[plans.Count][][];
        for (int p = 0; p < plans.Count; p++) rowVectors[p] = new float[rows.Count][];
        var lengths = rows.Select(r => r.Length).ToArray();
        // Everything in one batch: all threads on it (lowest latency). Otherwise one single-threaded run per worker at
        // a time, the limits shared among the workers so the tokens in flight stay within the budget (long texts'
        // attention scores would otherwise outgrow the caches).
        long longest = Math.Max(lengths.Max(), 1);
        bool oneBatch = rows.Count <= _limits.MaxBatchSize && rows.Count * longest <= _limits.TokenBudget
            && !(rows.Count * longest * longest > _limits.ScoreBudget);
        int share = oneBatch ? 1 : _workers;
        var batches = BatchPlanner.Plan(lengths, Math.Max(1, _limits.TokenBudget / share), Math.Max(1, _limits.MaxBatchSize / share), _limits.ScoreBudget).Batches;
        int workers = Math.Min(_workers, batches.Count);
        var pooling = poolInGraph ? GraphPooling.MaskedMean : GraphPooling.None;
        var session = workers > 1 ? Session(layers, pooling, Math.Max(1, _threads / workers)) : Session(layers, pooling);
        var progressLock = new object();
        BatchWorkers.Run(batches.Count, workers, index =>
        {
            var batch = batches[index];
            var encoded = _encoder.Pad([.. batch.Indexes.Select(i => rows[i])]);
            var outputs = session.Run(encoded.ToModelInputs(), outputNames);
            var specialMask = needSpecialMask ? SpecialMask(encoded) : null;
            var attentionMask = encoded.AttentionMask;
            if (poolInGraph) (outputs, attentionMask) = AsSingleTokenRows(outputs, layers, batch.Indexes.Length);
            for (int p = 0; p < plans.Count; p++)
            {
                var vectors = heads[p].Vectors(outputs, attentionMask, plans[p].ExcludeSpecialTokens ? specialMask : default);
                for (int k = 0; k < batch.Indexes.Length; k++) rowVectors[p][batch.Indexes[k]] = vectors[k];
            }
            // Progress in texts, scaled from rows (a long BERT text has several rows); one report at a time, rising.
            lock (progressLock)
            {
                finishedUnits += batch.Indexes.Length;
                onProgress?.Invoke((int)((long)finishedUnits * texts.Count / totalUnits));
            }
        }, cancellation);

        var results = new PipelineVector[plans.Count][];
        for (int p = 0; p < plans.Count; p++) results[p] = Gather(texts.Count, rows, owner, rowVectors[p], plans[p], segmented[p]);
        return results;
    }

    // Pooled [B, H] vectors seen as hidden states of one real token per row ([B, 1, H], mask of ones), so the head's
    // layer combination, truncation and normalization apply unchanged (the mean of one token is that token, exactly).
    private static (Dictionary<string, DenseTensor<float>> Outputs, long[] Mask) AsSingleTokenRows(
        Dictionary<string, DenseTensor<float>> pooled, int[] layers, int rows)
    {
        var outputs = new Dictionary<string, DenseTensor<float>>(StringComparer.Ordinal);
        foreach (int layer in layers)
        {
            var tensor = pooled[GraphRequest.PooledOutputName(layer)];
            outputs[LayerSelection.OutputName(layer)] = new DenseTensor<float>(tensor.Data, [tensor.Shape[0], 1, tensor.Shape[1]]);
        }
        var mask = new long[rows];
        Array.Fill(mask, 1L);
        return (outputs, mask);
    }

    // Rows of one text are adjacent; a text of several windows gets the token-weighted mean of its windows' vectors.
    // Texts that ran through segment recurrence come ready in `segmented` and own no rows.
    private static PipelineVector[] Gather(int textCount, List<EncodedText> rows, List<int> owner, float[][] rowVectors,
        ResolvedEmbeddingOptions plan, PipelineVector?[] segmented)
    {
        var result = new PipelineVector[textCount];
        int r = 0;
        for (int t = 0; t < textCount; t++)
        {
            if (segmented[t] is { } ready)
            {
                result[t] = ready;
                continue;
            }
            int first = r;
            while (r < rows.Count && owner[r] == t) r++;
            int windows = r - first;
            int tokens = 0;
            for (int i = first; i < r; i++) tokens += rows[i].Length;
            if (windows == 1)
            {
                result[t] = new PipelineVector(rowVectors[first], tokens, 1);
                continue;
            }
            var parts = new List<float[]>(windows);
            var weights = new List<double>(windows);
            for (int i = first; i < r; i++)
            {
                parts.Add(rowVectors[i]);
                weights.Add(rows[i].Length);
            }
            var mean = VectorMath.WeightedMean(parts, weights);
            result[t] = new PipelineVector(VectorMath.Finish(mean, mean.Length, plan.Normalize), tokens, windows);
        }
        return result;
    }

    /// <summary>Tokens the model sees for <paramref name="text"/> (<see cref="PipelineVector.Tokens"/>), without running it.</summary>
    public int CountTokens(string text) => CountTokens(_encoder.Pieces(text));

    /// <summary><see cref="CountTokens(string)"/> from a text's pieces.</summary>
    public int CountTokens(IReadOnlyList<TokenPiece> pieces) => UsesSegmentRecurrence
        ? pieces.Count + _encoder.SpecialTokenCount(pair: false)
        : _encoder.WindowTokenCount(pieces.Count);

    /// <summary>The encoder this pipeline lays texts out with (pieces made by another one do not fit its ids).</summary>
    public TextEncoder Encoder => _encoder;

    /// <summary>Token-level vectors of one text (cut to the model's window, flagged), with tokens and offsets.</summary>
    public (EncodedText Encoded, int[] TokenIndexes, float[][] Vectors) EmbedTokens(string text, ResolvedEmbeddingOptions plan, IReadOnlyList<TokenPiece>? pieces = null)
    {
        // The first window; from the caller's pieces when it tokenized the text already.
        var encoded = pieces is null ? _encoder.Encode(text) : _encoder.EncodeSingle(pieces, _encoder.MaxLength);
        var batch = _encoder.Pad([encoded]);
        var layers = plan.Layers.Distinct().Order().ToArray();
        var outputs = Session(layers).Run(batch.ToModelInputs(), [.. layers.Select(LayerSelection.OutputName)]);
        var head = new EmbeddingHead(plan);
        var row = head.Tokens(outputs, batch.AttentionMask, SpecialMask(batch))[0];
        int first = batch.FirstTokenColumn(0);
        return (encoded, [.. row.Positions.Select(p => p - first)], row.Vectors);
    }

    /// <summary>
    /// Architectures with <see cref="LongTextStrategy.SegmentRecurrence"/> (XLNet): a text longer than the window runs as
    /// consecutive segments of the window's length, each attending to the memory of the segments before it
    /// (<see cref="ISegmentRunner"/>); every plan then pools over all of its tokens at once, so <c>&lt;cls&gt;</c> (the
    /// last token) and the mean see the whole text.
    /// </summary>
    private bool UsesSegmentRecurrence => _model.Architecture.LongText == LongTextStrategy.SegmentRecurrence;

    private float[][] RunRecurrent(EncodedText encoded, int[] layers, EmbeddingHead[] heads, out int segmentCount)
    {
        var runner = SegmentRunner(layers.Max());
        var result = runner.Run(encoded.Ids.Select(id => (long)id).ToArray(), encoded.TypeIds.Select(id => (long)id).ToArray());
        segmentCount = result.SegmentCount;
        var outputs = layers.ToDictionary(LayerSelection.OutputName, k => result.HiddenStates[k]);
        var attention = new long[encoded.Length];
        Array.Fill(attention, 1L);
        var special = encoded.SpecialTokenMask.Select(s => s ? 1L : 0L).ToArray();
        return [.. heads.Select(h => h.Vectors(outputs, attention, h.Plan.ExcludeSpecialTokens ? special : default)[0])];
    }

    // One runner per highest layer; its graph (memory inputs on) goes through the graph cache like the others.
    private ISegmentRunner SegmentRunner(int highestLayer) =>
        _runners.GetOrAdd(highestLayer, top => new Lazy<ISegmentRunner>(() => _model.Architecture.CreateSegmentRunner(
            _encoder.MaxLength, top, _settings,
            (graph, request) => _model.CreateSession(graph, request, _settings, _cache)))).Value;

    private static long[] SpecialMask(BatchEncoding batch)
    {
        var mask = new long[batch.BatchSize * batch.SequenceLength];
        for (int row = 0; row < batch.BatchSize; row++)
        {
            var item = batch.Items[row];
            int start = row * batch.SequenceLength + batch.FirstTokenColumn(row);
            for (int t = 0; t < item.Length; t++)
                if (item.SpecialTokenMask[t]) mask[start + t] = 1;
        }
        return mask;
    }

    // One session per distinct set of layers: the graph is cut after the highest layer a request needs.
    // Batch workers get their own session of fewer intra-op threads (one session runs concurrently on all of them).
    private EncoderSession Session(int[] layers, GraphPooling pooling = GraphPooling.None, int? threads = null)
    {
        var settings = threads is int t && t != _threads ? _settings with { Threads = t } : _settings;
        string key = string.Join(",", layers) + "/" + pooling + "/" + settings.Threads;
        return _sessions.GetOrAdd(key, _ => new Lazy<EncoderSession>(
            () => _model.CreateSession(new GraphRequest(layers.Max(), layers) { Pooling = pooling, Precision = _precision, FusedOperators = _fused, FusedAttention = _fusedAttention,
                Int8Form = _int8Form, Int8Calibration = _int8Calibration }, settings, _cache))).Value;
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
            if (session.IsValueCreated) session.Value.Dispose();
        foreach (var runner in _runners.Values)
            if (runner.IsValueCreated) runner.Value.Dispose();
        _prepackedWeights.Dispose();
    }
}
