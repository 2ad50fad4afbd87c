using System.Globalization;
using KeyEmbed.Checkpoints;
using KeyEmbed.Embedding;
using KeyEmbed.Runtime;
using KeyEmbed.Onnx;
using Onnx;

namespace KeyEmbed.Architectures.Bert;

/// <summary>
/// A BERT encoder over a checkpoint: checks every weight against the config when created, and builds an ONNX graph
/// (embeddings + LayerNorm, N post-norm self-attention layers) that outputs <c>hidden_states.k</c>.
/// Reproduces Hugging Face transformers' <c>models/bert/modeling_bert.py</c> (BertEmbeddings, BertSelfAttention,
/// BertSelfOutput, BertIntermediate, BertOutput) and Google's <c>modeling.py</c> <c>transformer_model</c>.
/// </summary>
internal sealed class BertGraph : IEncoderArchitecture
{
    /// <summary>Bumped whenever the emitted graph changes, so cached graphs of older versions are not reused.</summary>
    public const int GraphVersion = 7;

    // BERT's additive mask value for padding keys (modeling_bert's extended attention mask, Google's -10000.0).
    private const float MaskedScore = -10000f;

    // int8: the Q/K/V input's loudest channels scaled down (and the weights' rows up), the feed-forward inputs'
    // loudest channels kept out of quantization; chosen from the weights (docs/performance.md, "int8").
    private const int Int8SmoothedChannels = 24;
    private const int Int8OutlierChannels = 24;

    // At most a quarter of a narrow input's channels (tiny test models) are set apart; real widths (≥ 128) keep 24.
    private static int OutlierCount(int width, int count = Int8OutlierChannels) => Math.Min(count, width / 4);

    private readonly WeightScope _weights;
    private readonly Lazy<IReadOnlyList<BertInt8InputSizes>> _int8InputSizes;

    public BertGraph(BertConfig config, ITensorSource source, BertVariant? variant = null)
    {
        Config = config;
        Variant = variant ?? BertVariant.Bert;
        _weights = new WeightScope(source, Variant.WeightNames);
        CheckWeights();
        // Counted by stored tensor, so weights shared between layers (ALBERT) count once.
        ParameterCount = _weights.Used.Sum(name => source.TryGetInfo(name, out var info) ? info.ElementCount : 0);
        var unused = _weights.Unused();
        var extraLayer = unused.Select(Variant.LayerOf).Where(l => l >= config.LayerCount).Max();
        if (extraLayer is { } layer)
            throw new KeyEmbedException(ErrorKind.ShapeMismatch,
                $"{source.Path}: the checkpoint has weights for encoder layer {layer} but the config ({config.Source}) says num_hidden_layers = {config.LayerCount}; the config does not match the weights");
        IgnoredWeights = unused;
        _int8InputSizes = new(() => BertInt8InputEstimate.Estimate(Config, Variant, _weights));
    }

    public BertConfig Config { get; }

    /// <summary>How this family member differs from BERT.</summary>
    public BertVariant Variant { get; }

    public string Name => Variant.Name;

    public int LayerCount => Config.LayerCount;

    public int VocabularySize => Config.VocabSize;

    public int HiddenSize => Config.HiddenSize;

    // RoBERTa's first real position is pad_token_id + 1.
    public int? MaxSequenceLength => Variant.Positions == BertPositions.AfterPadding ? Config.MaxPositions - (int)Variant.PaddingId - 1 : Config.MaxPositions;

    public PaddingSide PaddingSide => PaddingSide.Right;

    public bool SupportsGraphPoolingAndInt8 => true;

    int IEncoderArchitecture.GraphVersion => GraphVersion * 100 + Variant.GraphVersion;

    /// <summary>Second-to-last layer, mean pooling; the classification token is the first (the family may say otherwise).</summary>
    public EmbeddingDefaults RawDefaults => Variant.RawDefaults;

    public string? WhyIgnored(string storedName) => Variant.WhyIgnored(storedName);

    /// <summary>Ids within the vocabulary, token types within the token type table (when the family has one).</summary>
    public void CheckInputs(IReadOnlyDictionary<string, DenseTensor<long>> inputs, string origin)
    {
        ArchitectureInputs.CheckRange(inputs, GraphNames.InputIds, Config.VocabSize, "the vocabulary", origin);
        if (Variant.TokenTypes)
            ArchitectureInputs.CheckRange(inputs, GraphNames.TokenTypeIds, Config.TypeVocabSize, "the token type range", origin);
    }

    public IReadOnlyList<KeyValuePair<string, string>> Facts =>
    [
        new("architecture", Name),
        new("layers", Config.LayerCount.ToString(CultureInfo.InvariantCulture)),
        new("hidden size", Config.HiddenSize.ToString(CultureInfo.InvariantCulture)),
        new("attention heads", Config.HeadCount.ToString(CultureInfo.InvariantCulture)),
        new("intermediate size", Config.IntermediateSize.ToString(CultureInfo.InvariantCulture)),
        new("activation", $"{Config.ActivationName} ({ActivationText(Config.Activation)})"),
        new("vocab size", Config.VocabSize.ToString(CultureInfo.InvariantCulture)),
        new("max positions", Config.MaxPositions.ToString(CultureInfo.InvariantCulture)),
        new("token types", Variant.TokenTypes ? Config.TypeVocabSize.ToString(CultureInfo.InvariantCulture) : "none"),
        new("layer norm eps", Config.LayerNormEps.ToString("R", CultureInfo.InvariantCulture)),
        .. Variant.Facts,
        new("config", Config.Source),
    ];

    public IReadOnlyList<string> IgnoredWeights { get; }

    /// <summary>Stored name → BERT's canonical name(s) it fills; a tensor shared by layers (ALBERT) lists them as <c>encoder.layer.{0,1,2}.…</c>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> TensorUses =>
    [
        .. _weights.Source.Tensors.Where(t => _weights.Uses.ContainsKey(t.Name))
            .Select(t => KeyValuePair.Create(t.Name, SharedLayers(_weights.Uses[t.Name]))),
    ];

    // encoder.layer.0.x, encoder.layer.1.x → encoder.layer.{0,1}.x
    private static string SharedLayers(IReadOnlyCollection<string> canonical)
    {
        if (canonical.Count == 1) return canonical.First();
        var parts = canonical.Select(c => System.Text.RegularExpressions.Regex.Match(c, @"^encoder\.layer\.(\d+)\.(.+)$")).ToList();
        if (parts.All(m => m.Success) && parts.Select(m => m.Groups[2].Value).Distinct().Count() == 1)
            return $"encoder.layer.{{{string.Join(",", parts.Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).Order())}}}.{parts[0].Groups[2].Value}";
        return string.Join(", ", canonical);
    }

    public long ParameterCount { get; }

    public ModelProto BuildGraph(GraphRequest request)
    {
        var outputs = ValidateRequest(request);
        var b = new GraphBuilder("keyembed_bert") { Int8Form = request.Int8Form, Int8Calibration = request.Int8Calibration };
        string inputIds = b.Input(GraphNames.InputIds, ElementType.Int64, "batch", "sequence");
        string attentionMask = b.Input(GraphNames.AttentionMask, ElementType.Int64, "batch", "sequence");
        string tokenTypeIds = b.Input(GraphNames.TokenTypeIds, ElementType.Int64, "batch", "sequence");

        var layerSettings = new LayerSettings(request.FusedOperators, request.Precision, request.FusedAttention,
            request.Precision == ComputePrecision.Int8 ? _int8InputSizes.Value : null);
        string hidden = Embeddings(b, inputIds, tokenTypeIds);
        string? poolingMask = request.Pooling == GraphPooling.MaskedMean ? b.Cast(attentionMask, ElementType.Float) : null;
        if (outputs.Contains(0)) Output(b, 0, hidden, poolingMask);
        // The contrib attention kernels take the raw 0/1 mask (int32) and apply BERT's -10000 themselves.
        bool contribAttention = layerSettings.FusedAttention;
        string mask = contribAttention ? b.Cast(attentionMask, ElementType.Int32) : AdditiveMask(b, attentionMask);
        int blocks = Variant.BlocksPerLayer;
        for (int layer = 1; layer <= request.HighestLayer; layer++)
        {
            for (int j = 0; j < blocks; j++)
            {
                int block = (layer - 1) * blocks + j;
                using (b.Scope($"layer_{block}"))
                    hidden = EncoderLayer(b, _weights.Prefix($"encoder.layer.{block}"), hidden, mask, layerSettings, block);
            }
            if (outputs.Contains(layer)) Output(b, layer, hidden, poolingMask);
        }
        return b.Build();
    }

    // Int8InputSizes: int8 only, per layer, for preparing each quantized projection's input.
    private sealed record LayerSettings(bool Fused, ComputePrecision Precision, bool FusedAttention, IReadOnlyList<BertInt8InputSizes>? Int8InputSizes);

    // Width of the word embedding table (ALBERT, ELECTRA: embedding_size; others the hidden size).
    private int EmbeddingWidth => Variant.EmbeddingSize ?? Config.HiddenSize;

    // Width of the position and token type tables and the embedding LayerNorm: the hidden size where only the words are projected.
    private int EmbeddingSumWidth => Variant.ProjectsWordsOnly ? Config.HiddenSize : EmbeddingWidth;

    // BertEmbeddings.forward: word + position + token type, then LayerNorm; then, where the family projects its
    // embeddings (ELECTRA's embeddings_project, ALBERT's embedding_hidden_mapping_in), the projection to the hidden size.
    private string Embeddings(GraphBuilder b, string inputIds, string tokenTypeIds)
    {
        var c = Config;
        int wordWidth = EmbeddingWidth, width = EmbeddingSumWidth;
        var e = _weights.Prefix("embeddings");
        string normalized;
        using (b.Scope("embeddings"))
        {
            string words = b.Gather(b.Initializer("word_embeddings", e.Tensor("word_embeddings.weight", c.VocabSize, wordWidth), c.VocabSize, wordWidth), inputIds);
            if (Variant.ProjectsWordsOnly)
                using (b.Scope("embeddings_project"))
                    words = Project(b, _weights, "embeddings_project", words, wordWidth, c.HiddenSize, ComputePrecision.Float32, withBias: false);
            string sum = b.Add(words, PositionEmbeddings(b, e, inputIds, width));
            if (Variant.TokenTypes)
                sum = b.Add(sum, b.Gather(b.Initializer("token_type_embeddings", e.Tensor("token_type_embeddings.weight", c.TypeVocabSize, width), c.TypeVocabSize, width), tokenTypeIds));
            normalized = LayerNorm(b, e, "LayerNorm", sum, width);
        }
        if (Variant.EmbeddingSize is null || Variant.ProjectsWordsOnly) return normalized;
        using (b.Scope("embeddings_project"))
            return Project(b, _weights, "embeddings_project", normalized, width, c.HiddenSize, ComputePrecision.Float32);
    }

    private string PositionEmbeddings(GraphBuilder b, WeightScope e, string inputIds, int width)
    {
        var c = Config;
        string positionTable = b.Initializer("position_embeddings", e.Tensor("position_embeddings.weight", c.MaxPositions, width), c.MaxPositions, width);
        if (Variant.Positions == BertPositions.AfterPadding)
        {
            // RoBERTa: cumsum(ids != pad) · (ids != pad) + pad, per row.
            string pad = b.Initializer("padding_id", [Variant.PaddingId]);
            string real = b.Cast(b.Not(b.Equal(inputIds, pad)), ElementType.Int64);
            string counted = b.Node("CumSum", [real, b.Initializer("cumsum_axis", [1L])]);
            return b.Gather(positionTable, b.Add(b.Mul(counted, real), pad));
        }
        // The first T rows of the table: position ids 0..T-1 on every row.
        string sequenceLength = b.Slice(b.Shape(inputIds), b.Int64s(1), b.Int64s(2), b.Int64s(0));
        return b.Slice(positionTable, b.Int64s(0), sequenceLength, b.Int64s(0));
    }

    // modeling_bert's get_extended_attention_mask: (1 - mask) * -10000 broadcast over heads and queries, [B, 1, 1, T].
    private static string AdditiveMask(GraphBuilder b, string attentionMask)
    {
        string mask = b.Unsqueeze(b.Cast(attentionMask, ElementType.Float), 1, 2);
        return b.Mul(b.Sub(b.Scalar(1f), mask), b.Scalar(MaskedScore));
    }

    // BertLayer: self-attention → dense + residual + LayerNorm → intermediate (activation) → dense + residual + LayerNorm.
    private string EncoderLayer(GraphBuilder b, WeightScope w, string x, string mask, LayerSettings settings, int index)
    {
        var sizes = settings.Int8InputSizes?[index];
        if (!settings.Fused) return PlainEncoderLayer(b, w, x, mask, settings.Precision, settings.FusedAttention, sizes);
        var c = Config;
        var p = settings.Precision;
        // Same layer with ONNX Runtime's fused kernels: bias + residual + LayerNorm in one pass, bias + GELU in one
        // pass, optionally Q/K/V in one projection + attention in one kernel.
        string attention = FusedAttention(b, w.Prefix("attention.self"), x, mask, p, settings.FusedAttention, Smoothing(sizes));
        var ao = w.Prefix("attention.output");
        string attentionOutput = b.SkipLayerNorm(Project(b, ao, "dense", attention, c.HiddenSize, c.HiddenSize, p, withBias: false), x,
            NormScale(b, ao, "LayerNorm"), NormShift(b, ao, "LayerNorm"), Bias(b, ao, "dense", c.HiddenSize), (float)Config.LayerNormEps);
        var im = w.Prefix("intermediate");
        string up = Project(b, im, "dense", attentionOutput, c.HiddenSize, c.IntermediateSize, p, withBias: false, outlierSizes: sizes?.UpInput);
        string upBias = Bias(b, im, "dense", c.IntermediateSize);
        string intermediate = Config.Activation switch
        {
            BertActivation.GeluErf => b.BiasGelu(up, upBias),
            BertActivation.GeluTanh => b.FastGelu(up, upBias),
            _ => Activation(b, b.Add(up, upBias)),
        };
        var o = w.Prefix("output");
        return b.SkipLayerNorm(Project(b, o, "dense", intermediate, c.IntermediateSize, c.HiddenSize, p, withBias: false, outlierSizes: sizes?.DownInput), attentionOutput,
            NormScale(b, o, "LayerNorm"), NormShift(b, o, "LayerNorm"), Bias(b, o, "dense", c.HiddenSize), (float)Config.LayerNormEps);
    }

    private string FusedAttention(GraphBuilder b, WeightScope w, string x, string mask, ComputePrecision p, bool fused, float[]? int8InputScales) =>
        fused ? FusedSelfAttention(b, w, x, mask, p, int8InputScales) : SelfAttention(b, w, x, mask, p, int8InputScales);

    // int8Sizes: int8 only (see Project's outlierSizes and Smoothing).
    private string PlainEncoderLayer(GraphBuilder b, WeightScope w, string x, string mask, ComputePrecision p, bool fusedAttention, BertInt8InputSizes? int8Sizes)
    {
        var c = Config;
        string attention = FusedAttention(b, w.Prefix("attention.self"), x, mask, p, fusedAttention, Smoothing(int8Sizes));
        string attentionOutput = LayerNorm(b, w.Prefix("attention.output"), "LayerNorm",
            b.Add(Project(b, w.Prefix("attention.output"), "dense", attention, c.HiddenSize, c.HiddenSize, p), x));
        if (p == ComputePrecision.Int8 && int8Sizes is not null)
            return LayerNorm(b, w.Prefix("output"), "LayerNorm", b.Add(QuantizedFeedForward(b, w, attentionOutput, int8Sizes), attentionOutput));
        string intermediate = Activation(b, Project(b, w.Prefix("intermediate"), "dense", attentionOutput, c.HiddenSize, c.IntermediateSize, p,
            outlierSizes: int8Sizes?.UpInput));
        return LayerNorm(b, w.Prefix("output"), "LayerNorm",
            b.Add(Project(b, w.Prefix("output"), "dense", intermediate, c.IntermediateSize, c.HiddenSize, p, outlierSizes: int8Sizes?.DownInput), attentionOutput));
    }

    // int8 feed-forward (up → activation → down) whose down-projection input has its loud channels taken out without
    // touching the [tokens, intermediate] tensor: the up kernel's loud columns (and bias) are zeroed, so the activation
    // gives exactly 0 there (GELU(0) = ReLU(0) = 0) and the per-tensor quantization of the down input never sees them;
    // those channels are computed beside it in float32 from the up input ([tokens, H] · [H, k]) and their down rows
    // added in float32. The up input itself is outlier-split as in Project.
    private string QuantizedFeedForward(GraphBuilder b, WeightScope w, string x, BertInt8InputSizes sizes)
    {
        int h = Config.HiddenSize, n = Config.IntermediateSize;
        var im = w.Prefix("intermediate");
        var o = w.Prefix("output");
        int[] loud = [.. Enumerable.Range(0, n).OrderByDescending(i => sizes.DownInput[i]).Take(OutlierCount(n)).Order()];
        int k = loud.Length;

        var upKernel = Kernel(im, "dense", h, n);
        var upBias = im.Tensor("dense.bias", n).ToArray();
        var loudUpKernel = new float[h * k];
        var loudUpBias = new float[k];
        for (int j = 0; j < k; j++)
        {
            for (int r = 0; r < h; r++)
            {
                loudUpKernel[r * k + j] = upKernel[r * n + loud[j]];
                upKernel[r * n + loud[j]] = 0f;
            }
            loudUpBias[j] = upBias[loud[j]];
            upBias[loud[j]] = 0f;
        }
        string up = OutlierSplitQuantizedMatMul(b, "intermediate", SplitOutliers(b, "intermediate", x, sizes.UpInput, OutlierCount(sizes.UpInput.Length)),
            upKernel, n, b.Initializer("intermediate.bias", upBias, n));
        string intermediate = Activation(b, up);
        string loudIntermediate = Activation(b, b.Linear(x, b.Initializer("intermediate.loud_kernel", loudUpKernel, h, k),
            b.Initializer("intermediate.loud_bias", loudUpBias, k)));

        var downKernel = Kernel(o, "dense", n, h);
        var loudDownRows = TakeRows(downKernel, loud, h);
        string down = QuantizedMatMul(b, "output", intermediate, downKernel, n, h, Bias(b, o, "dense", h));
        return b.Add(down, b.MatMul(loudIntermediate, b.Initializer("output.loud_kernel", loudDownRows, k, h)));
    }

    // BertSelfAttention with the three projections merged into one [H, 3H] kernel: ORT's Attention (float32), or one
    // int8 projection split into Q, K, V for MultiHeadAttention.
    private string FusedSelfAttention(GraphBuilder b, WeightScope w, string x, string mask, ComputePrecision p, float[]? int8InputScales)
    {
        var c = Config;
        int h = c.HiddenSize;
        // The contrib kernels scale the scores themselves, so the query is left unscaled here.
        var (kernel, bias) = MergedQkv(w, queryScale: 1f);
        string biasName = b.Initializer("qkv.bias", bias, 3 * h);
        if (p == ComputePrecision.Float32)
            return b.FusedAttention(x, b.Initializer("qkv.kernel", kernel, h, 3 * h), biasName, mask, c.HeadCount);
        string qkv = QuantizedMatMul(b, "qkv", SmoothInput(b, x, kernel, int8InputScales), kernel, h, 3 * h, biasName);
        var qkvParts = b.Split(qkv, -1, h, h, h);
        return b.MultiHeadAttention(qkvParts[0], qkvParts[1], qkvParts[2], mask, c.HeadCount);
    }

    // BertSelfAttention: softmax(Q·Kᵀ/√d + mask)·V per head, heads concatenated back to [B, T, H].
    private string SelfAttention(GraphBuilder b, WeightScope w, string x, string mask, ComputePrecision p, float[]? int8InputScales)
    {
        var (scores, value) = MergedProjectionScores(b, w, x, p, int8InputScales);
        string probabilities = b.Softmax(b.Add(scores, mask), -1);
        string context = b.Transpose(b.MatMul(probabilities, value), 0, 2, 1, 3);
        return b.Reshape(context, 0, 0, Config.HiddenSize);
    }

    // One [H, 3H] projection instead of three (one bigger MatMul, one bias Add; in int8 one quantization of the input
    // instead of three, with the same per-tensor scale, so the same answers) and the 1/√d score scale folded into the
    // query's weights, so no pass over the [B, h, T, T] scores divides them. int8: the input smoothed (inputScales).
    private (string Scores, string Value) MergedProjectionScores(GraphBuilder b, WeightScope w, string x, ComputePrecision p, float[]? inputScales)
    {
        var c = Config;
        int h = c.HiddenSize;
        var (kernel, bias) = MergedQkv(w, queryScale: 1f / MathF.Sqrt(c.HeadSize));
        string biasName = b.Initializer("qkv.bias", bias, 3 * h);
        string qkv = p == ComputePrecision.Int8
            ? QuantizedMatMul(b, "qkv", SmoothInput(b, x, kernel, inputScales), kernel, h, 3 * h, biasName)
            : b.Linear(x, b.Initializer("qkv.kernel", kernel, h, 3 * h), biasName);
        // [B, T, 3H] → [B, T, 3, h, d] → [3, B, h, T, d], then Q, K, V off the leading axis. ORT's transpose optimizer
        // pushes this Transpose below the Split (a Gather becomes the same Split + Squeeze) and merges it with Kᵀ's,
        // so each of Q, Kᵀ, V still costs one transpose pass, as with three projections.
        string heads = b.Transpose(b.Reshape(qkv, 0, 0, 3, c.HeadCount, c.HeadSize), 2, 0, 3, 1, 4);
        var parts = b.Split(heads, 0, 1, 1, 1);
        string Part(int i) => b.Squeeze(parts[i], 0);   // [B, h, T, d]
        string scores = b.MatMul(Part(0), b.Transpose(Part(1), 0, 1, 3, 2));
        return (scores, Part(2));
    }

    // Query, key and value kernels side by side ([H, 3H], graph layout) and their biases ([3H]); the query's columns
    // and bias multiplied by queryScale (a linear map, so scaling the weights scales Q and hence every score).
    private (float[] Kernel, float[] Bias) MergedQkv(WeightScope w, float queryScale)
    {
        int h = Config.HiddenSize;
        var query = Kernel(w, "query", h, h);
        var queryBias = w.Tensor("query.bias", h).ToArray();   // a copy: scaled in place below
        if (queryScale != 1f)
        {
            for (int i = 0; i < query.Length; i++) query[i] *= queryScale;
            for (int i = 0; i < queryBias.Length; i++) queryBias[i] *= queryScale;
        }
        var kernel = ConcatColumns(h, [query, Kernel(w, "key", h, h), Kernel(w, "value", h, h)]);
        float[] bias = [.. queryBias, .. w.Tensor("key.bias", h), .. w.Tensor("value.bias", h)];
        return (kernel, bias);
    }

    // nn.Linear: x·Wᵀ (+ b), W stored [out, in] in the checkpoint and [in, out] in the graph; int8 per output channel on
    // request. int8 only: inputScales, x is already x / s (the kernel's rows take × s); outlierSizes, x is outlier-split.
    private static string Project(GraphBuilder b, WeightScope w, string name, string x, int inputs, int outputs, ComputePrecision p, bool withBias = true,
        float[]? inputScales = null, double[]? outlierSizes = null)
    {
        string? bias = withBias ? Bias(b, w, name, outputs) : null;
        var kernel = Kernel(w, name, inputs, outputs);
        if (p == ComputePrecision.Int8 && outlierSizes is not null)
            return OutlierSplitQuantizedMatMul(b, name, SplitOutliers(b, name, x, outlierSizes, OutlierCount(outlierSizes.Length)), kernel, outputs, bias);
        if (p == ComputePrecision.Int8 && inputScales is not null) ScaleRows(kernel, inputScales, outputs);
        if (p == ComputePrecision.Int8) return QuantizedMatMul(b, name, x, kernel, inputs, outputs, bias);
        return b.Linear(x, b.Initializer($"{name}.kernel", kernel, inputs, outputs), bias);
    }

    private static string QuantizedMatMul(GraphBuilder b, string name, string x, float[] kernel, int inputs, int outputs, string? bias) =>
        b.QuantizedLinear(name, x, kernel, inputs, outputs, bias);

    // The int8 Q/K/V input's per-channel scales, SmoothQuant-style (Xiao et al. 2022): the loudest channels by the
    // weight-only estimate get s = √(size / the next channel's size), the rest 1; x / s has evener channel ranges.
    private static float[]? Smoothing(BertInt8InputSizes? sizes)
    {
        if (sizes is null) return null;
        var size = sizes.AttentionInput;
        var order = Enumerable.Range(0, size.Length).OrderByDescending(i => size[i]).ToArray();
        int smoothed = OutlierCount(size.Length, Int8SmoothedChannels);
        double reference = size[order[smoothed]];
        var scales = new float[size.Length];
        Array.Fill(scales, 1f);
        foreach (int channel in order.Take(smoothed)) scales[channel] = (float)Math.Sqrt(size[channel] / reference);
        return scales;
    }

    // x / s (one Mul), and kernel [inputs, outputs] rows × s when given, so x·W is unchanged; x itself without scales.
    private static string SmoothInput(GraphBuilder b, string x, float[]? kernel, float[]? scales)
    {
        if (scales is null) return x;
        if (kernel is not null) ScaleRows(kernel, scales, kernel.Length / scales.Length);
        return b.Mul(x, b.Initializer("input_smoothing", [.. scales.Select(s => 1 / s)], scales.Length));
    }

    // kernel [inputs, outputs]: row i × scales[i].
    private static void ScaleRows(float[] kernel, float[] scales, int outputs)
    {
        for (int i = 0; i < scales.Length; i++)
            foreach (ref float v in kernel.AsSpan(i * outputs, outputs)) v *= scales[i];
    }

    // An int8 projection's input split in two (LLM.int8(), Dettmers et al. 2022): Rest, x with its loudest channels
    // zeroed, for the per-tensor quantized MatMul; Outliers, those channels gathered, for a float32 MatMul.
    private sealed record OutlierSplit(string Rest, string Outliers, int[] Channels, int Width);

    // The count channels with the largest estimated sizes, chosen when the graph is built.
    private static OutlierSplit SplitOutliers(GraphBuilder b, string name, string x, double[] sizes, int count)
    {
        int width = sizes.Length;
        int[] channels = [.. Enumerable.Range(0, width).OrderByDescending(i => sizes[i]).Take(count).Order()];
        var keep = new float[width];
        Array.Fill(keep, 1f);
        foreach (int channel in channels) keep[channel] = 0f;
        string rest = b.Mul(x, b.Initializer($"{name}.outlier_mask", keep, width));
        string outliers = b.Gather(x, b.Initializer($"{name}.outlier_channels", [.. channels.Select(i => (long)i)], channels.Length), -1);
        return new OutlierSplit(rest, outliers, channels, width);
    }

    // quantized(Rest) · W with the outlier rows zeroed (+ bias), plus Outliers · W[outlier rows] in float32: x · W (+ bias).
    private static string OutlierSplitQuantizedMatMul(GraphBuilder b, string name, OutlierSplit input, float[] kernel, int outputs, string? bias)
    {
        var outlierRows = TakeRows(kernel, input.Channels, outputs);
        string quantized = QuantizedMatMul(b, name, input.Rest, kernel, input.Width, outputs, bias);
        return b.Add(quantized, b.MatMul(input.Outliers, b.Initializer($"{name}.outlier_kernel", outlierRows, input.Channels.Length, outputs)));
    }

    // The given rows of kernel [inputs, outputs], copied out ([rows, outputs]) and zeroed in kernel, which also keeps
    // them out of its per-column int8 scales.
    private static float[] TakeRows(float[] kernel, int[] rows, int outputs)
    {
        var taken = new float[rows.Length * outputs];
        for (int i = 0; i < rows.Length; i++)
        {
            var row = kernel.AsSpan(rows[i] * outputs, outputs);
            row.CopyTo(taken.AsSpan(i * outputs, outputs));
            row.Clear();
        }
        return taken;
    }

    private static float[] Kernel(WeightScope w, string name, int inputs, int outputs) =>
        WeightScope.Transpose(w.Tensor($"{name}.weight", outputs, inputs), outputs, inputs);

    private static string Bias(GraphBuilder b, WeightScope w, string name, int outputs) =>
        b.Initializer($"{name}.bias", w.Tensor($"{name}.bias", outputs), outputs);

    // [rows, a] ‖ [rows, b] ‖ … → [rows, a + b + …]
    private static float[] ConcatColumns(int rows, float[][] parts)
    {
        int width = parts.Sum(p => p.Length / rows);
        var result = new float[rows * width];
        int offset = 0;
        foreach (var part in parts)
        {
            int columns = part.Length / rows;
            for (int r = 0; r < rows; r++) part.AsSpan(r * columns, columns).CopyTo(result.AsSpan(r * width + offset, columns));
            offset += columns;
        }
        return result;
    }

    private string NormScale(GraphBuilder b, WeightScope w, string name) =>
        b.Initializer($"{name}.weight", w.Tensor($"{name}.weight", Config.HiddenSize), Config.HiddenSize);

    private string NormShift(GraphBuilder b, WeightScope w, string name) =>
        b.Initializer($"{name}.bias", w.Tensor($"{name}.bias", Config.HiddenSize), Config.HiddenSize);

    private string LayerNorm(GraphBuilder b, WeightScope w, string name, string x, int? width = null)
    {
        int h = width ?? Config.HiddenSize;
        string scale = b.Initializer($"{name}.weight", w.Tensor($"{name}.weight", h), h);
        string shift = b.Initializer($"{name}.bias", w.Tensor($"{name}.bias", h), h);
        return b.LayerNorm(x, scale, shift, (float)Config.LayerNormEps);
    }

    private string Activation(GraphBuilder b, string x) => Config.Activation switch
    {
        BertActivation.GeluErf => b.GeluErf(x),
        BertActivation.GeluTanh => b.GeluTanh(x),
        BertActivation.Relu => b.Relu(x),
        _ => throw new InvalidOperationException($"unhandled activation {Config.Activation}"),
    };

    private void Output(GraphBuilder b, int layer, string value, string? poolingMask)
    {
        if (poolingMask is null)
            b.Output(GraphNames.HiddenState(layer), value, ElementType.Float, "batch", "sequence", (long)Config.HiddenSize);
        else
            b.Output(GraphRequest.PooledOutputName(layer), b.MaskedMean(value, poolingMask), ElementType.Float, "batch", (long)Config.HiddenSize);
    }

    private HashSet<int> ValidateRequest(GraphRequest request)
    {
        if (request.HighestLayer < 0 || request.HighestLayer > LayerCount)
            throw KeyEmbedException.Input($"layer {request.HighestLayer} does not exist; this BERT has hidden states 0..{LayerCount}", nameof(KeyEmbed.Embedding.EmbeddingOptions.Layers));
        var outputs = request.HiddenStateOutputs is null
            ? Enumerable.Range(0, request.HighestLayer + 1).ToHashSet()
            : request.HiddenStateOutputs.ToHashSet();
        if (outputs.Count == 0)
            throw KeyEmbedException.Input("a graph request must ask for at least one hidden state");
        foreach (int k in outputs)
            if (k < 0 || k > request.HighestLayer)
                throw KeyEmbedException.Input($"hidden state {k} is outside 0..{request.HighestLayer} (the highest layer requested)");
        return outputs;
    }

    // Every weight the graph will read, shape-checked without reading data; returns the parameter count
    // (a weight shared by several blocks counted each time).
    private long CheckWeights()
    {
        var c = Config;
        int wordWidth = EmbeddingWidth, width = EmbeddingSumWidth;
        var e = _weights.Prefix("embeddings");
        long total = e.Check("word_embeddings.weight", c.VocabSize, wordWidth)
            + e.Check("position_embeddings.weight", c.MaxPositions, width)
            + (Variant.TokenTypes ? e.Check("token_type_embeddings.weight", c.TypeVocabSize, width) : 0)
            + e.Check("LayerNorm.weight", width) + e.Check("LayerNorm.bias", width);
        if (Variant.EmbeddingSize is not null)
            total += _weights.Check("embeddings_project.weight", c.HiddenSize, wordWidth)
                + (Variant.ProjectsWordsOnly ? 0 : _weights.Check("embeddings_project.bias", c.HiddenSize));
        for (int layer = 0; layer < c.LayerCount * Variant.BlocksPerLayer; layer++)
        {
            var w = _weights.Prefix($"encoder.layer.{layer}");
            foreach (var name in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense" })
                total += w.Check(name + ".weight", c.HiddenSize, c.HiddenSize) + w.Check(name + ".bias", c.HiddenSize);
            total += w.Check("intermediate.dense.weight", c.IntermediateSize, c.HiddenSize) + w.Check("intermediate.dense.bias", c.IntermediateSize);
            total += w.Check("output.dense.weight", c.HiddenSize, c.IntermediateSize) + w.Check("output.dense.bias", c.HiddenSize);
            foreach (var norm in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
                total += w.Check(norm + ".weight", c.HiddenSize) + w.Check(norm + ".bias", c.HiddenSize);
        }
        return total;
    }

    private static string ActivationText(BertActivation activation) => activation switch
    {
        BertActivation.GeluErf => "GELU, erf form",
        BertActivation.GeluTanh => "GELU, tanh approximation",
        _ => "ReLU",
    };
}
