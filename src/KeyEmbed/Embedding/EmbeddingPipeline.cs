using System.Collections.Concurrent;
using KeyEmbed.Architectures;
using KeyEmbed.Models;
using KeyEmbed.Runtime;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Embedding;

/// <summary>Batching limits of an <see cref="EmbeddingPipeline"/>.</summary>
/// <param name="TokenBudget">Most padded tokens (rows × longest row) in one model run.</param>
/// <param name="MaxBatchSize">Most rows in one model run.</param>
internal sealed record BatchLimits(int TokenBudget = 8192, int MaxBatchSize = 64);

/// <summary>One text's vector and what happened on the way.</summary>
/// <param name="Vector">The pooled, truncated, normalized float32 vector.</param>
/// <param name="Tokens">Tokens the model saw for this text (all windows together), special tokens included.</param>
/// <param name="Windows">How many windows the text was cut into (1 = it fit the model).</param>
internal readonly record struct PipelineVector(float[] Vector, int Tokens, int Windows);

/// <summary>
/// The Transformer → Pooling → Normalize chain (sentence-transformers' module pipeline) for one model: tokenize,
/// sort by length and batch by a token budget, run the graph cut after the highest layer the plan needs, select
/// and combine layers, pool, truncate and normalize, and hand the vectors back in the caller's order.
/// Texts longer than the model's window are cut into consecutive windows whose vectors are averaged,
/// weighted by their token counts.
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
    private readonly ConcurrentDictionary<string, Lazy<EncoderSession>> _sessions = new(StringComparer.Ordinal);

    public EmbeddingPipeline(LoadedModel model, TextEncoder encoder, SessionSettings settings, GraphCache? cache, BatchLimits limits,
        ComputePrecision precision = ComputePrecision.Float32, bool fusedOperators = true, bool fusedAttention = false)
    {
        _fusedAttention = fusedAttention;
        _precision = precision;
        _fused = fusedOperators;
        _model = model;
        _encoder = encoder;
        _settings = settings;
        _cache = cache;
        _limits = limits;
    }

    /// <summary>Embeds <paramref name="texts"/> under a resolved plan; <paramref name="onProgress"/> gets the number of texts finished so far.</summary>
    public PipelineVector[] Embed(IReadOnlyList<string> texts, ResolvedEmbeddingOptions plan, Action<int>? onProgress = null, CancellationToken cancellation = default) =>
        Embed(texts, [plan], onProgress, cancellation)[0];

    /// <summary>
    /// Embeds <paramref name="texts"/> under several plans at once: the model runs once per batch with every layer any
    /// plan needs, and each plan's head reads its layers from that run (how <c>eval sweep</c> compares layers cheaply).
    /// </summary>
    public PipelineVector[][] Embed(IReadOnlyList<string> texts, IReadOnlyList<ResolvedEmbeddingOptions> plans, Action<int>? onProgress = null, CancellationToken cancellation = default)
    {
        if (plans.Any(p => p.Pooling == PoolingMode.None))
            throw new ArgumentException("token-level plans go through EmbedTokens", nameof(plans));

        // Flatten: every window of every text is one row; owner[i] says which text row i belongs to.
        var rows = new List<EncodedText>(texts.Count);
        var owner = new List<int>(texts.Count);
        for (int t = 0; t < texts.Count; t++)
        {
            if (texts[t] is null) throw KeyEmbedException.Input($"text {t} is null");
            foreach (var window in _encoder.EncodeWindows(texts[t]))
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
        var session = Session(layers, poolInGraph ? GraphPooling.MaskedMean : GraphPooling.None);
        var rowVectors = new float[plans.Count][][];
        for (int p = 0; p < plans.Count; p++) rowVectors[p] = new float[rows.Count][];
        var batchPlan = BatchPlanner.Plan([.. rows.Select(r => r.Length)], _limits.TokenBudget, _limits.MaxBatchSize);
        int finishedRows = 0;
        foreach (var batch in batchPlan.Batches)
        {
            cancellation.ThrowIfCancellationRequested();
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
            finishedRows += batch.Indexes.Length;
            // Progress in texts, scaled from rows (a long text has several rows).
            onProgress?.Invoke((int)((long)finishedRows * texts.Count / Math.Max(rows.Count, 1)));
        }

        var results = new PipelineVector[plans.Count][];
        for (int p = 0; p < plans.Count; p++) results[p] = Gather(texts.Count, rows, owner, rowVectors[p], plans[p]);
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
    private static PipelineVector[] Gather(int textCount, List<EncodedText> rows, List<int> owner, float[][] rowVectors, ResolvedEmbeddingOptions plan)
    {
        var result = new PipelineVector[textCount];
        int r = 0;
        for (int t = 0; t < textCount; t++)
        {
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

    /// <summary>Token-level vectors of one text (cut to the model's window, flagged), with tokens and offsets.</summary>
    public (EncodedText Encoded, int[] TokenIndexes, float[][] Vectors) EmbedTokens(string text, ResolvedEmbeddingOptions plan)
    {
        var encoded = _encoder.Encode(text);
        var batch = _encoder.Pad([encoded]);
        var layers = plan.Layers.Distinct().Order().ToArray();
        var outputs = Session(layers).Run(batch.ToModelInputs(), [.. layers.Select(LayerSelection.OutputName)]);
        var head = new EmbeddingHead(plan);
        var row = head.Tokens(outputs, batch.AttentionMask, SpecialMask(batch))[0];
        int first = batch.FirstTokenColumn(0);
        return (encoded, [.. row.Positions.Select(p => p - first)], row.Vectors);
    }

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
    private EncoderSession Session(int[] layers, GraphPooling pooling = GraphPooling.None)
    {
        string key = string.Join(",", layers) + "/" + pooling;
        return _sessions.GetOrAdd(key, _ => new Lazy<EncoderSession>(
            () => _model.CreateSession(new GraphRequest(layers.Max(), layers) { Pooling = pooling, Precision = _precision, FusedOperators = _fused, FusedAttention = _fusedAttention }, _settings, _cache))).Value;
    }

    public void Dispose()
    {
        foreach (var session in _sessions.Values)
            if (session.IsValueCreated) session.Value.Dispose();
    }
}
