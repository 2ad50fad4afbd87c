using KeyEmbed.Checkpoints;

namespace KeyEmbed.Architectures.XLNet;

/// <summary>Which naming scheme a checkpoint uses for XLNet's tensors.</summary>
internal enum XLNetNaming
{
    /// <summary>Google's TensorFlow release: <c>model/transformer/layer_N/rel_attn/q/kernel</c>, shared or stacked biases.</summary>
    TensorFlow,
    /// <summary>Hugging Face: <c>transformer.layer.N.rel_attn.q</c> (or without the <c>transformer.</c> prefix).</summary>
    HuggingFace,
}

/// <summary>How a stored tensor becomes its canonical layout.</summary>
internal enum XLNetWeightLayout
{
    /// <summary>Stored exactly in the canonical layout.</summary>
    AsStored,
    /// <summary>A 2-D matrix stored [out, in] (torch Linear); the canonical layout is [in, out].</summary>
    Transposed,
    /// <summary>One layer's slice of a tensor stacked over layers on axis 0 (TF untie_r biases, TF seg_embed).</summary>
    LayerOfStack,
}

/// <summary>One canonical weight and where it is in the checkpoint.</summary>
/// <param name="Canonical">Architecture-side name, e.g. <c>layer.0.rel_attn.q</c>.</param>
/// <param name="CheckpointName">The stored tensor's name.</param>
/// <param name="StoredShape">The shape the config implies for the stored tensor.</param>
/// <param name="Layout">How to turn the stored tensor into the canonical layout.</param>
/// <param name="Layer">The layer slice taken for <see cref="XLNetWeightLayout.LayerOfStack"/>.</param>
internal sealed record XLNetWeightEntry(string Canonical, string CheckpointName, long[] StoredShape, XLNetWeightLayout Layout, int Layer = -1);

/// <summary>
/// The table from XLNet's canonical weight names to a checkpoint's names (TensorFlow or Hugging Face), checked
/// against the source's names and shapes once, then read in canonical layouts:
/// <c>word_embedding</c> [V, d_model]; per layer <c>rel_attn.{q,k,v,r,o}</c> [d_model, n_head, d_head],
/// <c>rel_attn.{r_w_bias,r_r_bias,r_s_bias}</c> [n_head, d_head], <c>rel_attn.seg_embed</c> [2, n_head, d_head],
/// <c>rel_attn.layer_norm.{weight,bias}</c>, <c>ff.layer_1.kernel</c> [d_model, d_inner] (in, out),
/// <c>ff.layer_2.kernel</c> [d_inner, d_model], their biases, <c>ff.layer_norm.{weight,bias}</c>.
/// Kept apart from <c>WeightScope</c> because TensorFlow XLNet stores some weights as one layer's slice of a stacked tensor.
/// </summary>
internal sealed class XLNetWeightMap
{
    /// <summary>Canonical name of the word embedding.</summary>
    public const string WordEmbedding = "word_embedding";

    private const string TensorFlowRoot = "model/transformer/";
    private const string HuggingFacePrefix = "transformer.";

    private readonly ITensorSource _source;
    private readonly Dictionary<string, XLNetWeightEntry> _entries;

    private XLNetWeightMap(ITensorSource source, XLNetNaming naming, List<XLNetWeightEntry> entries, IReadOnlyList<string> ignored)
    {
        _source = source;
        Naming = naming;
        _entries = entries.ToDictionary(e => e.Canonical, StringComparer.Ordinal);
        Entries = entries;
        IgnoredWeights = ignored;
        ParameterCount = entries
            .Select(e => e.CheckpointName).Distinct(StringComparer.Ordinal)
            .Sum(name => source.TryGetInfo(name, out var info) ? info.ElementCount : 0);
    }

    /// <summary>The naming scheme the checkpoint uses.</summary>
    public XLNetNaming Naming { get; }

    /// <summary>Every canonical weight and its checkpoint tensor.</summary>
    public IReadOnlyList<XLNetWeightEntry> Entries { get; }

    /// <summary>Checkpoint tensors the encoder does not use (lm_loss, mask_emb, heads, optimizer slots).</summary>
    public IReadOnlyList<string> IgnoredWeights { get; }

    /// <summary>Elements in the checkpoint tensors the encoder uses (shared TF biases counted once).</summary>
    public long ParameterCount { get; }

    /// <summary>Canonical name of a per-layer weight, e.g. <c>Layer(0, "rel_attn.q")</c>.</summary>
    public static string Layer(int layer, string part) => $"layer.{layer}.{part}";

    /// <summary>
    /// Finds the naming scheme, checks that every weight the config needs exists with the implied shape, and returns
    /// the map. A missing tensor is <see cref="ErrorKind.MissingWeight"/>, a wrong shape <see cref="ErrorKind.ShapeMismatch"/>,
    /// both naming the checkpoint tensor.
    /// </summary>
    public static XLNetWeightMap Resolve(ITensorSource source, XLNetConfig config)
    {
        var (naming, entries) = Plan(source, config);
        foreach (var entry in entries)
        {
            if (!source.TryGetInfo(entry.CheckpointName, out var info))
                throw new KeyEmbedException(ErrorKind.MissingWeight,
                    $"{source.Path}: XLNet weight '{entry.CheckpointName}' (canonical '{entry.Canonical}') is missing; " +
                    $"the checkpoint does not match its config ({Describe(config)}) or is incomplete");
            if (!info.Shape.SequenceEqual(entry.StoredShape))
                throw new KeyEmbedException(ErrorKind.ShapeMismatch,
                    $"{source.Path}: XLNet weight '{entry.CheckpointName}' has shape {info.ShapeText} but the config " +
                    $"({Describe(config)}) implies [{string.Join(", ", entry.StoredShape)}]; use the config that came with these weights");
            if (!TensorConversion.IsFloating(info.DType))
                throw KeyEmbedException.Checkpoint(source.Path,
                    $"XLNet weight '{entry.CheckpointName}' has element type {info.DType}; a floating type was expected");
        }
        var used = entries.Select(e => e.CheckpointName).ToHashSet(StringComparer.Ordinal);
        var ignored = source.Tensors.Select(t => t.Name).Where(n => !used.Contains(n)).ToList();
        return new XLNetWeightMap(source, naming, entries, ignored);
    }

    /// <summary>Reads one canonical weight as float32 in its canonical layout.</summary>
    public float[] Read(string canonical)
    {
        var entry = _entries[canonical];
        float[] stored = _source.ReadFloat32(entry.CheckpointName);
        switch (entry.Layout)
        {
            case XLNetWeightLayout.AsStored:
                return stored;
            case XLNetWeightLayout.Transposed:
                {
                    int rows = (int)entry.StoredShape[0], cols = (int)entry.StoredShape[1];
                    var result = new float[stored.Length];
                    for (int r = 0; r < rows; r++)
                        for (int c = 0; c < cols; c++)
                            result[c * rows + r] = stored[r * cols + c];
                    return result;
                }
            case XLNetWeightLayout.LayerOfStack:
                {
                    int sliceLength = stored.Length / (int)entry.StoredShape[0];
                    return stored.AsSpan(entry.Layer * sliceLength, sliceLength).ToArray();
                }
            default:
                throw new InvalidOperationException($"unknown layout {entry.Layout}");
        }
    }

    private static string Describe(XLNetConfig c) =>
        $"d_model {c.DModel}, n_layer {c.LayerCount}, n_head {c.HeadCount}, d_head {c.HeadSize}, d_inner {c.InnerSize}, " +
        $"vocabulary {c.VocabSize}, untie_r {(c.UntieR ? "true" : "false")}";

    private static (XLNetNaming, List<XLNetWeightEntry>) Plan(ITensorSource source, XLNetConfig config)
    {
        if (source.TryGetInfo(TensorFlowRoot + "word_embedding/lookup_table", out _))
            return (XLNetNaming.TensorFlow, TensorFlowEntries(config).ToList());
        if (source.TryGetInfo(HuggingFacePrefix + "word_embedding.weight", out _))
            return (XLNetNaming.HuggingFace, HuggingFaceEntries(config, HuggingFacePrefix).ToList());
        if (source.TryGetInfo("word_embedding.weight", out _))
            return (XLNetNaming.HuggingFace, HuggingFaceEntries(config, "").ToList());
        throw new KeyEmbedException(ErrorKind.MissingWeight,
            $"{source.Path}: no XLNet word embedding found (looked for '{TensorFlowRoot}word_embedding/lookup_table', " +
            $"'{HuggingFacePrefix}word_embedding.weight', 'word_embedding.weight'); is this an XLNet checkpoint?");
    }

    // Names and shapes from the original xlnet modeling.py (transformer_xl, rel_multihead_attn, positionwise_ffn).
    private static IEnumerable<XLNetWeightEntry> TensorFlowEntries(XLNetConfig c)
    {
        long h = c.DModel, n = c.HeadCount, d = c.HeadSize, inner = c.InnerSize, layers = c.LayerCount;
        yield return new(WordEmbedding, TensorFlowRoot + "word_embedding/lookup_table", [c.VocabSize, h], XLNetWeightLayout.AsStored);
        for (int i = 0; i < c.LayerCount; i++)
        {
            string layer = $"{TensorFlowRoot}layer_{i}/";
            foreach (var projection in Projections)
                yield return new(Layer(i, "rel_attn." + projection), $"{layer}rel_attn/{projection}/kernel", [h, n, d], XLNetWeightLayout.AsStored);
            foreach (var bias in Biases)
                yield return c.UntieR
                    ? new(Layer(i, "rel_attn." + bias), TensorFlowRoot + bias, [layers, n, d], XLNetWeightLayout.LayerOfStack, i)
                    : new(Layer(i, "rel_attn." + bias), TensorFlowRoot + bias, [n, d], XLNetWeightLayout.AsStored);
            // seg_embed is stacked over layers whatever untie_r says.
            yield return new(Layer(i, "rel_attn.seg_embed"), TensorFlowRoot + "seg_embed", [layers, 2, n, d], XLNetWeightLayout.LayerOfStack, i);
            yield return new(Layer(i, "rel_attn.layer_norm.weight"), layer + "rel_attn/LayerNorm/gamma", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "rel_attn.layer_norm.bias"), layer + "rel_attn/LayerNorm/beta", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_1.kernel"), layer + "ff/layer_1/kernel", [h, inner], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_1.bias"), layer + "ff/layer_1/bias", [inner], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_2.kernel"), layer + "ff/layer_2/kernel", [inner, h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_2.bias"), layer + "ff/layer_2/bias", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_norm.weight"), layer + "ff/LayerNorm/gamma", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_norm.bias"), layer + "ff/LayerNorm/beta", [h], XLNetWeightLayout.AsStored);
        }
    }

    // Names from Hugging Face's modeling_xlnet.py (XLNetModel, XLNetRelativeAttention, XLNetFeedForward); every layer
    // stores its own biases, even when untie_r is false (then they are copies).
    private static IEnumerable<XLNetWeightEntry> HuggingFaceEntries(XLNetConfig c, string prefix)
    {
        long h = c.DModel, n = c.HeadCount, d = c.HeadSize, inner = c.InnerSize;
        yield return new(WordEmbedding, prefix + "word_embedding.weight", [c.VocabSize, h], XLNetWeightLayout.AsStored);
        for (int i = 0; i < c.LayerCount; i++)
        {
            string layer = $"{prefix}layer.{i}.";
            foreach (var projection in Projections)
                yield return new(Layer(i, "rel_attn." + projection), $"{layer}rel_attn.{projection}", [h, n, d], XLNetWeightLayout.AsStored);
            foreach (var bias in Biases)
                yield return new(Layer(i, "rel_attn." + bias), $"{layer}rel_attn.{bias}", [n, d], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "rel_attn.seg_embed"), layer + "rel_attn.seg_embed", [2, n, d], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "rel_attn.layer_norm.weight"), layer + "rel_attn.layer_norm.weight", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "rel_attn.layer_norm.bias"), layer + "rel_attn.layer_norm.bias", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_1.kernel"), layer + "ff.layer_1.weight", [inner, h], XLNetWeightLayout.Transposed);
            yield return new(Layer(i, "ff.layer_1.bias"), layer + "ff.layer_1.bias", [inner], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_2.kernel"), layer + "ff.layer_2.weight", [h, inner], XLNetWeightLayout.Transposed);
            yield return new(Layer(i, "ff.layer_2.bias"), layer + "ff.layer_2.bias", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_norm.weight"), layer + "ff.layer_norm.weight", [h], XLNetWeightLayout.AsStored);
            yield return new(Layer(i, "ff.layer_norm.bias"), layer + "ff.layer_norm.bias", [h], XLNetWeightLayout.AsStored);
        }
    }

    private static readonly string[] Projections = ["q", "k", "v", "r", "o"];
    private static readonly string[] Biases = ["r_w_bias", "r_r_bias", "r_s_bias"];
}
