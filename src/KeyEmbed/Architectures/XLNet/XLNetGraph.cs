using System.Globalization;
using KeyEmbed.Checkpoints;
using KeyEmbed.Embedding;
using KeyEmbed.Runtime;
using KeyEmbed.Onnx;
using Onnx;

namespace KeyEmbed.Architectures.XLNet;

/// <summary>
/// XLNet's content stream (feature extraction) as an ONNX graph: word embedding, relative attention with the three
/// bias terms, relative shift and relative segment encoding, optional per-layer memory, position-wise feed-forward.
/// Inputs: int64 <c>input_ids</c>, <c>attention_mask</c> (1 = real token), <c>token_type_ids</c> [batch, sequence];
/// with <see cref="XLNetRunSettings.MemoryInputs"/>, float <c>mems.k</c> [M, batch, d_model] for k = 0..HighestLayer-1
/// (sequence-first as Hugging Face; every k the same M, M = 0 allowed). Outputs: <c>hidden_states.k</c>
/// [batch, sequence, d_model] and, when mem_len &gt; 0, <c>new_mems.k</c> [min(mem_len, M + sequence), batch, d_model].
/// </summary>
internal sealed class XLNetGraph : IEncoderArchitecture
{
    /// <summary>Bumped whenever the emitted graph changes, so cached graphs are rebuilt.</summary>
    public const int GraphVersion = 1;

    private const float MaskedScore = -1e30f;
    private readonly XLNetWeightMap _weights;

    public XLNetGraph(XLNetConfig config, XLNetWeightMap weights, XLNetRunSettings? settings = null)
    {
        Config = config;
        _weights = weights;
        Settings = (settings ?? config.DefaultRunSettings).Validated();
    }

    /// <summary>Resolves and checks the weights of <paramref name="source"/> against <paramref name="config"/>.</summary>
    public static XLNetGraph Load(ITensorSource source, XLNetConfig config, XLNetRunSettings? settings = null) =>
        new(config, XLNetWeightMap.Resolve(source, config), settings);

    public XLNetConfig Config { get; }

    public XLNetRunSettings Settings { get; }

    /// <summary>The same weights run with other settings (e.g. with memory inputs for segment recurrence).</summary>
    public XLNetGraph WithSettings(XLNetRunSettings settings) => new(Config, _weights, settings);

    public string Name => "xlnet";

    public int LayerCount => Config.LayerCount;

    public int VocabularySize => Config.VocabSize;

    public int HiddenSize => Config.DModel;

    public int? MaxSequenceLength => null;

    public PaddingSide PaddingSide => PaddingSide.Left;

    public IReadOnlyList<string> IgnoredWeights => _weights.IgnoredWeights;

    int IEncoderArchitecture.GraphVersion => GraphVersion;

    /// <summary>Second-to-last layer, mean pooling; the summary token <c>&lt;cls&gt;</c> is the last real one.</summary>
    public EmbeddingDefaults RawDefaults => EmbeddingDefaults.RawXLNet;

    public LongTextStrategy LongText => LongTextStrategy.SegmentRecurrence;

    public IReadOnlyList<KeyValuePair<string, string>> RunMetadata =>
    [
        new("attn_type", Settings.AttentionTypeName),
        new("mem_len", Settings.MemoryLength.ToString(CultureInfo.InvariantCulture)),
        new("clamp_len", Settings.ClampLength.ToString(CultureInfo.InvariantCulture)),
        new("padding_side", "left"),
    ];

    /// <summary>Ids within the vocabulary; token types are only compared for equality (segment encoding), so any value goes.</summary>
    public void CheckInputs(IReadOnlyDictionary<string, DenseTensor<long>> inputs, string origin) =>
        ArchitectureInputs.CheckRange(inputs, GraphNames.InputIds, Config.VocabSize, "the vocabulary", origin);

    public ISegmentRunner CreateSegmentRunner(int segmentLength, int? highestLayer = null, SessionSettings? settings = null,
        Func<IEncoderArchitecture, GraphRequest, EncoderSession>? openSession = null) =>
        new XLNetSegmentRunner(this, segmentLength, highestLayer, settings,
            openSession is null ? null : (graph, request) => openSession(graph, request));

    public long ParameterCount => _weights.ParameterCount;

    public IReadOnlyList<KeyValuePair<string, string>> Facts
    {
        get
        {
            static string Text(long v) => v.ToString(CultureInfo.InvariantCulture);
            var c = Config;
            var s = Settings;
            return
            [
                // The labels BERT's inspect uses first (the config's own key in brackets), then XLNet's own settings.
                new("architecture", "xlnet"),
                new("layers", Text(c.LayerCount)),
                new("hidden size", $"{Text(c.DModel)} (d_model)"),
                new("attention heads", $"{Text(c.HeadCount)} (n_head), head size {Text(c.HeadSize)} (d_head)"),
                new("intermediate size", $"{Text(c.InnerSize)} (d_inner)"),
                new("activation", c.Activation switch
                {
                    XLNetActivation.Relu => "relu",
                    XLNetActivation.GeluErf => "gelu (GELU, erf form)",
                    _ => "gelu (tanh approximation)",
                }),
                new("vocab size", Text(c.VocabSize)),
                new("max positions", "unbounded (relative positions)"),
                new("token types", "3 (A, B, cls; segments compared, not embedded)"),
                new("layer norm eps", c.LayerNormEpsilon.ToString("R", CultureInfo.InvariantCulture)),
                new("weight names", _weights.Naming == XLNetNaming.TensorFlow ? "tensorflow" : "hugging face"),
                new("untie_r", c.UntieR ? "true" : "false"),
                new("attn_type", s.AttentionTypeName),
                new("mem_len", s.MemoryLength > 0 ? Text(s.MemoryLength) : "0 (no memory)"),
                new("reuse_len", s.ReuseLength > 0 ? Text(s.ReuseLength) : "0 (all)"),
                new("clamp_len", s.ClampLength > 0 ? Text(s.ClampLength) : "none"),
                new("same_length", s.SameLength ? "true" : "false"),
                new("memory inputs", s.MemoryInputs ? "mems.0 .. mems." + Text(c.LayerCount - 1) : "none"),
                new("padding", "left"),
                new("config", c.Style == XLNetConfigStyle.Original ? "original (xlnet_config.json)" : "hugging face (config.json)"),
            ];
        }
    }

    public ModelProto BuildGraph(GraphRequest request)
    {
        int top = request.HighestLayer;
        if (top < 0 || top > LayerCount)
            throw KeyEmbedException.Input($"layer {top} does not exist: this XLNet model has layers 0..{LayerCount}", nameof(KeyEmbed.Embedding.EmbeddingOptions.Layers));
        var exposed = (request.HiddenStateOutputs ?? Enumerable.Range(0, top + 1).ToList()).ToHashSet();
        foreach (int k in exposed)
            if (k < 0 || k > top) throw KeyEmbedException.Input($"hidden state {k} is outside the layers built (0..{top})");

        var b = new GraphBuilder("xlnet");
        long h = Config.DModel;
        string ids = b.Input(GraphNames.InputIds, ElementType.Int64, "batch", "sequence");
        string mask = b.Input(GraphNames.AttentionMask, ElementType.Int64, "batch", "sequence");
        string types = b.Input(GraphNames.TokenTypeIds, ElementType.Int64, "batch", "sequence");
        string[]? mems = Settings.MemoryInputs
            ? Enumerable.Range(0, top).Select(k => b.Input(GraphNames.Memory(k), ElementType.Float, "memory", "batch", h)).ToArray()
            : null;
        if (mems is { Length: 0 }) mems = null;

        // modeling_xlnet.py XLNetModel.forward: word_emb_k = word_embedding(input_ids); dropout is off at inference.
        string hidden = b.Gather(b.Initializer("word_embedding", _weights.Read(XLNetWeightMap.WordEmbedding), Config.VocabSize, h), ids);
        Expose(b, 0, hidden, exposed);
        if (top == 0) return b.Build();

        var shared = BuildSharedInputs(b, ids, mask, types, mems?[0]);
        for (int layer = 0; layer < top; layer++)
        {
            using var scope = b.Scope($"layer_{layer}");
            string? memory = mems is null ? null : b.Transpose(mems[layer], 1, 0, 2); // [batch, M, d_model]
            hidden = BuildLayer(b, layer, hidden, memory, shared);
            Expose(b, layer + 1, hidden, exposed);
        }
        return b.Build();
    }

    private void Expose(GraphBuilder b, int k, string value, HashSet<int> exposed)
    {
        if (exposed.Contains(k)) b.Output(GraphNames.HiddenState(k), value, ElementType.Float, "batch", "sequence", (long)Config.DModel);
    }

    /// <summary>Values every layer shares: lengths, position encoding, attention-mask bias, segment difference.</summary>
    private sealed record SharedInputs(string SequenceLength, string KeyLength, string PositionEmbedding, string MaskBias, string SegmentDiffers);

    private SharedInputs BuildSharedInputs(GraphBuilder b, string ids, string mask, string types, string? firstMemory)
    {
        string batch1 = b.Dim(ids, 0), seq1 = b.Dim(ids, 1);                // [1] each
        string mem1 = firstMemory is null ? b.Int64s(0) : b.Dim(firstMemory, 0);
        string key1 = b.Add(mem1, seq1);                                    // klen = mlen + qlen
        string seq0 = b.Squeeze(seq1, 0), mem0 = b.Squeeze(mem1, 0), key0 = b.Squeeze(key1, 0);

        // modeling_xlnet.py XLNetModel.relative_positional_encoding: pos_seq from klen down to -qlen (bi) or -1 (uni),
        // clamped to ±clamp_len, then [sin | cos] of pos_seq · inv_freq.
        string limit = Settings.AttentionType == XLNetAttentionType.Bi ? b.Neg(b.Cast(seq0, ElementType.Float)) : b.Scalar(-1f);
        string positions = b.Range(b.Cast(key0, ElementType.Float), limit, b.Scalar(-1f));
        if (Settings.ClampLength > 0)
            positions = b.Clip(positions, b.Scalar(-Settings.ClampLength), b.Scalar(Settings.ClampLength));
        var inverseFrequency = new float[Config.DModel / 2];
        for (int i = 0; i < inverseFrequency.Length; i++)
            inverseFrequency[i] = (float)(1.0 / Math.Pow(10000.0, 2.0 * i / Config.DModel));
        string angles = b.Mul(b.Unsqueeze(positions, 1), b.Initializer("inv_freq", inverseFrequency, 1, inverseFrequency.Length));
        string positionEmbedding = b.Concat(-1, b.Sin(angles), b.Cos(angles));  // [rlen, d_model]

        // Key j (0..klen-1, memory first) against query i (0..qlen-1, absolute position mlen + i).
        string keyIndex = b.Unsqueeze(b.Range(b.Int64Scalar(0), key0, b.Int64Scalar(1)), 0);          // [1, klen]
        string queryIndex = b.Unsqueeze(b.Range(b.Int64Scalar(0), seq0, b.Int64Scalar(1)), 1);         // [qlen, 1]
        string queryPosition = b.Add(queryIndex, mem0);

        // modeling_xlnet.py XLNetModel.forward (data_mask, create_mask, non_tgt_mask): padding keys are hidden (memory
        // never is), uni hides later keys, and a position always sees itself.
        string? memoryShape = firstMemory is null ? null : b.Concat(0, batch1, mem1);
        string keyMask = firstMemory is null ? mask : b.Concat(1, b.ConstantOfShape(memoryShape!, 1), mask);
        string blocked = b.Unsqueeze(b.Equal(keyMask, b.Int64Scalar(0)), 1);                           // [batch, 1, klen]
        if (Settings.AttentionType == XLNetAttentionType.Uni)
        {
            blocked = b.Or(blocked, b.Greater(keyIndex, queryPosition));
            if (Settings.SameLength) blocked = b.Or(blocked, b.Less(keyIndex, queryIndex));
        }
        blocked = b.And(blocked, b.Not(b.Equal(keyIndex, queryPosition)));                              // [batch, qlen, klen]
        string maskBias = b.Where(b.Unsqueeze(blocked, 1), b.Scalar(MaskedScore), b.Scalar(0f));

        // Relative segment encoding: 1 where query and key segments differ; memory counts as segment 0.
        string keyTypes = firstMemory is null ? types : b.Concat(1, b.ConstantOfShape(memoryShape!, 0), types);
        string differs = b.Not(b.Equal(b.Unsqueeze(types, 2), b.Unsqueeze(keyTypes, 1)));               // [batch, qlen, klen]
        return new SharedInputs(seq1, key1, positionEmbedding, maskBias, b.Unsqueeze(differs, 1));
    }

    private string BuildLayer(GraphBuilder b, int layer, string hidden, string? memory, SharedInputs shared)
    {
        long h = Config.DModel, n = Config.HeadCount, d = Config.HeadSize;
        string W(string part) => XLNetWeightMap.Layer(layer, part);
        string Projection(string part) => b.Initializer(part, _weights.Read(W("rel_attn." + part)), h, n * d);
        string HeadBias(string part) => b.Initializer(part, _weights.Read(W("rel_attn." + part)), n, 1, d);
        string Heads(string x) => b.Reshape(x, 0, 0, n, d);                                            // [.., .., n, d]

        string context = memory is null ? hidden : b.Concat(1, memory, hidden);                         // cat = [mems, h]
        if (Settings.MemoryLength > 0) ExposeNewMemory(b, layer, hidden, memory, context);

        // modeling_xlnet.py XLNetRelativeAttention.rel_attn_core (content stream, h = g = input).
        string q = b.Transpose(Heads(b.MatMul(hidden, Projection("q"))), 0, 2, 1, 3);                   // [b, n, qlen, d]
        string kT = b.Transpose(Heads(b.MatMul(context, Projection("k"))), 0, 2, 3, 1);                 // [b, n, d, klen]
        string v = b.Transpose(Heads(b.MatMul(context, Projection("v"))), 0, 2, 1, 3);                  // [b, n, klen, d]
        string rT = b.Transpose(b.Reshape(b.MatMul(shared.PositionEmbedding, Projection("r")), 0, n, d), 1, 2, 0); // [n, d, rlen]

        string contentScore = b.MatMul(b.Add(q, HeadBias("r_w_bias")), kT);                            // ac [b, n, qlen, klen]
        string positionScore = RelativeShift(b, b.MatMul(b.Add(q, HeadBias("r_r_bias")), rT), shared);   // bd
        string segmentEmbedding = b.Initializer("seg_embed", SegmentEmbeddingByHead(_weights.Read(W("rel_attn.seg_embed"))), n, d, 2);
        string bySegment = b.MatMul(b.Add(q, HeadBias("r_s_bias")), segmentEmbedding);                 // [b, n, qlen, 2]
        string one = b.Int64s(1), two = b.Int64s(2), three = b.Int64s(3), zero = b.Int64s(0);
        string segmentScore = b.Where(shared.SegmentDiffers,
            b.Slice(bySegment, one, two, three), b.Slice(bySegment, zero, one, three));                 // ef
        string score = b.Mul(b.Add(b.Add(contentScore, positionScore), segmentScore), b.Scalar(1f / MathF.Sqrt(d)));
        score = b.Add(score, shared.MaskBias);
        string attended = b.MatMul(b.Softmax(score, -1), v);                                           // [b, n, qlen, d]
        string merged = b.Reshape(b.Transpose(attended, 0, 2, 1, 3), 0, 0, n * d);

        // modeling_xlnet.py XLNetRelativeAttention.post_attention: o projection, residual, LayerNorm.
        string output = b.Initializer("o", OutputProjection(_weights.Read(W("rel_attn.o"))), n * d, h);
        string attention = b.LayerNorm(b.Add(b.MatMul(merged, output), hidden),
            b.Initializer("attn_ln_gamma", _weights.Read(W("rel_attn.layer_norm.weight")), h),
            b.Initializer("attn_ln_beta", _weights.Read(W("rel_attn.layer_norm.bias")), h), Config.LayerNormEpsilon);

        // modeling_xlnet.py XLNetFeedForward: layer_1, activation, layer_2, residual, LayerNorm.
        long inner = Config.InnerSize;
        string up = b.Linear(attention, b.Initializer("ff1_kernel", _weights.Read(W("ff.layer_1.kernel")), h, inner),
            b.Initializer("ff1_bias", _weights.Read(W("ff.layer_1.bias")), inner));
        string activated = Config.Activation switch
        {
            XLNetActivation.Relu => b.Relu(up),
            XLNetActivation.GeluErf => b.GeluErf(up),
            _ => b.GeluTanh(up),
        };
        string down = b.Linear(activated, b.Initializer("ff2_kernel", _weights.Read(W("ff.layer_2.kernel")), inner, h),
            b.Initializer("ff2_bias", _weights.Read(W("ff.layer_2.bias")), h));
        return b.LayerNorm(b.Add(down, attention),
            b.Initializer("ff_ln_gamma", _weights.Read(W("ff.layer_norm.weight")), h),
            b.Initializer("ff_ln_beta", _weights.Read(W("ff.layer_norm.bias")), h), Config.LayerNormEpsilon);
    }

    // modeling_xlnet.py XLNetModel.cache_mem: the last mem_len positions of [mems, layer input] (input cut to reuse_len).
    private void ExposeNewMemory(GraphBuilder b, int layer, string hidden, string? memory, string context)
    {
        string source = context;
        if (Settings.ReuseLength > 0)
        {
            string reused = b.Slice(hidden, b.Int64s(0), b.Int64s(Settings.ReuseLength), b.Int64s(1));
            source = memory is null ? reused : b.Concat(1, memory, reused);
        }
        string kept = b.Slice(source, b.Int64s(-Settings.MemoryLength), b.Int64s(long.MaxValue), b.Int64s(1));
        b.Output(GraphNames.NewMemory(layer), b.Transpose(kept, 1, 0, 2), ElementType.Float, "new_memory", "batch", (long)Config.DModel);
    }

    // modeling_xlnet.py XLNetRelativeAttention.rel_shift_bnij: view [.., qlen, rlen] as [.., rlen, qlen], drop the
    // first row, view back as [.., qlen, rlen - 1] and keep klen columns, so column j holds distance mlen + i - j.
    private static string RelativeShift(GraphBuilder b, string scores, SharedInputs shared)
    {
        string swapped = b.ReshapeTo(scores, b.Concat(0, b.Int64s(0, 0, -1), shared.SequenceLength));
        string dropped = b.Slice(swapped, b.Int64s(1), b.Int64s(long.MaxValue), b.Int64s(2));
        string back = b.ReshapeTo(dropped, b.Concat(0, b.Int64s(0, 0), shared.SequenceLength, b.Int64s(-1)));
        return b.Slice(back, b.Int64s(0), shared.KeyLength, b.Int64s(3));
    }

    /// <summary>seg_embed [2, n, d] → [n, d, 2] so that (q + r_s_bias) · it gives both segment scores at once.</summary>
    private float[] SegmentEmbeddingByHead(float[] stored)
    {
        int n = Config.HeadCount, d = Config.HeadSize;
        var result = new float[stored.Length];
        for (int s = 0; s < 2; s++)
            for (int head = 0; head < n; head++)
                for (int i = 0; i < d; i++)
                    result[(head * d + i) * 2 + s] = stored[(s * n + head) * d + i];
        return result;
    }

    /// <summary>o [d_model, n, d] → [n·d, d_model]: attn_out = einsum("ibnd,hnd->ibh") as one matrix product.</summary>
    private float[] OutputProjection(float[] stored)
    {
        int h = Config.DModel, nd = Config.HeadCount * Config.HeadSize;
        var result = new float[stored.Length];
        for (int row = 0; row < h; row++)
            for (int col = 0; col < nd; col++)
                result[col * h + row] = stored[row * nd + col];
        return result;
    }
}
