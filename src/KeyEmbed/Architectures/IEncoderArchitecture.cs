using KeyEmbed.Embedding;
using KeyEmbed.Runtime;
using Onnx;

namespace KeyEmbed.Architectures;

/// <summary>Which side of a row padding goes on: BERT pads on the right, XLNet on the left.</summary>
public enum PaddingSide
{
    /// <summary>Real tokens first, padding after (BERT).</summary>
    Right,
    /// <summary>Padding first, real tokens after (XLNet).</summary>
    Left,
}

/// <summary>
/// What a caller needs from a graph: the highest transformer layer to compute (the graph is cut after it) and
/// which hidden states to expose (<c>hidden_states.k</c>, k = 0 embedding output … L last layer).
/// </summary>
/// <param name="HighestLayer">Highest layer computed, 0..L.</param>
/// <param name="HiddenStateOutputs">Layers exposed as outputs; null = every layer 0..HighestLayer.</param>
public sealed record GraphRequest(int HighestLayer, IReadOnlyList<int>? HiddenStateOutputs = null)
{
    /// <summary>
    /// <see cref="GraphPooling.MaskedMean"/>: each requested layer comes out pooled inside the graph as
    /// <c>pooled_mean.k</c> [batch, hidden] (mean over the tokens the attention mask keeps) instead of the
    /// [batch, sequence, hidden] <c>hidden_states.k</c>, so only the vectors leave ONNX Runtime.
    /// </summary>
    public GraphPooling Pooling { get; init; }

    /// <summary>Arithmetic of the linear layers: float32, or int8 weights with dynamically quantized activations.</summary>
    public ComputePrecision Precision { get; init; }

    /// <summary>
    /// Emit ONNX Runtime's fused contrib operators (SkipLayerNormalization, BiasGelu/FastGelu, with
    /// <see cref="FusedAttention"/> also Attention) where they apply. Off by default: the plain ONNX graph, which ORT's own
    /// optimizer fuses in part, measured faster on 2 cores (docs/performance.md: ORT's SkipLayerNormalization kernel
    /// was the slow part).
    /// </summary>
    public bool FusedOperators { get; init; }

    /// <summary>
    /// ORT's fused self-attention kernel (com.microsoft Attention, or MultiHeadAttention after one merged Q/K/V
    /// projection for int8), with or without <see cref="FusedOperators"/>. Off by default (measured no faster).
    /// </summary>
    public bool FusedAttention { get; init; }

    /// <summary>How int8 linear layers are written (int8 only; <see cref="Architectures.Int8Form.DynamicQuantizeMatMul"/> by default).</summary>
    internal Int8Form Int8Form { get; init; }

    /// <summary>Calibrated activation ranges for the static int8 forms.</summary>
    internal Int8Calibration? Int8Calibration { get; init; }

    /// <summary>Graph output name of the pooled vector of hidden state <paramref name="layer"/>.</summary>
    public static string PooledOutputName(int layer) => GraphNames.PooledMean(layer);

    /// <summary>The request as text for cache keys (every field that changes the graph).</summary>
    internal string CacheKey =>
        $"highest {HighestLayer}; outputs {(HiddenStateOutputs is null ? "all" : string.Join(",", HiddenStateOutputs))}; pooling {Pooling}; precision {Precision}; fused {FusedOperators}; fused attention {FusedAttention}" +
        (Precision == ComputePrecision.Int8 && Int8Form != Int8Form.DynamicQuantizeMatMul ? $"; int8 form {Int8Form}" : "") +
        (Precision == ComputePrecision.Int8 && Int8Calibration is not null ? $"; int8 calibration {Int8Calibration.Digest()}" : "");
}

/// <summary>Pooling done inside the graph (see <see cref="GraphRequest.Pooling"/>).</summary>
public enum GraphPooling
{
    /// <summary>None: token-level hidden states come out.</summary>
    None,
    /// <summary>Mean over the tokens whose attention mask is 1 (sentence-transformers' mean pooling).</summary>
    MaskedMean,
}

/// <summary>The arithmetic the encoder's linear layers run in.</summary>
public enum ComputePrecision
{
    /// <summary>32-bit floats: the reference answers.</summary>
    Float32,
    /// <summary>
    /// int8: each linear layer's weights quantized per output channel (symmetric, scale = max |w| / 127) when the
    /// graph is built, activations quantized per batch at run time (ONNX Runtime's DynamicQuantizeMatMul). Faster,
    /// slightly different answers (see docs/benchmarks.md).
    /// </summary>
    Int8,
}

/// <summary>
/// One loaded encoder model (BERT, XLNet): its facts and the ability to build an ONNX graph from its weights.
/// Graph inputs are int64 <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> [batch, sequence];
/// outputs are float <c>hidden_states.k</c> [batch, sequence, hidden].
/// </summary>
internal interface IEncoderArchitecture
{
    /// <summary>The architecture's registry name (<c>bert</c>, <c>xlnet</c>, …).</summary>
    string Name { get; }

    /// <summary>Number of transformer layers L.</summary>
    int LayerCount { get; }

    /// <summary>Width of every hidden state.</summary>
    int HiddenSize { get; }

    /// <summary>Rows of the word embedding matrix: every token id must be below it.</summary>
    int VocabularySize { get; }

    /// <summary>Longest sequence the model accepts (BERT: max_position_embeddings); null when unbounded (XLNet).</summary>
    int? MaxSequenceLength { get; }

    /// <summary>Which side the model pads on.</summary>
    PaddingSide PaddingSide { get; }

    /// <summary>Facts for <c>keyembed inspect</c> (architecture, layers, hidden size, heads, …), in display order.</summary>
    IReadOnlyList<KeyValuePair<string, string>> Facts { get; }

    /// <summary>Checkpoint tensors the encoder does not use (heads, pooler, optimizer slots), for <c>inspect</c>.</summary>
    IReadOnlyList<string> IgnoredWeights { get; }

    /// <summary>Number of parameters the encoder uses.</summary>
    long ParameterCount { get; }

    /// <summary>Whether <see cref="BuildGraph"/> honours <see cref="GraphRequest.Pooling"/> and <see cref="ComputePrecision.Int8"/>.</summary>
    bool SupportsGraphPoolingAndInt8 => false;

    /// <summary>Bumped whenever the architecture's emitted graph changes; part of the graph cache key.</summary>
    int GraphVersion { get; }

    /// <summary>The recipe for a raw checkpoint of this architecture (no sentence-transformers files): layer, pooling, cls position.</summary>
    EmbeddingDefaults RawDefaults { get; }

    /// <summary>How a text longer than the window is embedded.</summary>
    LongTextStrategy LongText => LongTextStrategy.Windows;

    /// <summary>Why a stored tensor the encoder does not use is expected (pooler, head, optimizer slot), or null when it is not.</summary>
    string? WhyIgnored(string storedName) => null;

    /// <summary>What each stored tensor became (stored name → the encoder weight(s) it fills), in file order, for <c>inspect</c>; empty when the architecture does not say.</summary>
    IReadOnlyList<KeyValuePair<string, string>> TensorUses => [];

    /// <summary>Settings of the run worth recording beside hidden states (written as safetensors metadata by <c>hidden-states</c>).</summary>
    IReadOnlyList<KeyValuePair<string, string>> RunMetadata => [];

    /// <summary>
    /// Checks token inputs against the model's tables before ONNX Runtime sees them (ids within the vocabulary, token
    /// types within their table); the sequence length is checked by the caller against <see cref="MaxSequenceLength"/>.
    /// </summary>
    /// <param name="inputs"><c>input_ids</c> and optionally <c>token_type_ids</c>, [batch, sequence].</param>
    /// <param name="origin">Where the inputs came from, for the message.</param>
    void CheckInputs(IReadOnlyDictionary<string, DenseTensor<long>> inputs, string origin);

    /// <summary>
    /// <see cref="LongTextStrategy.SegmentRecurrence"/> only: a runner that takes one long id sequence through consecutive
    /// segments of <paramref name="segmentLength"/> tokens with memory.
    /// </summary>
    /// <param name="segmentLength">Tokens per segment.</param>
    /// <param name="highestLayer">Highest layer computed; null = all.</param>
    /// <param name="settings">ONNX Runtime settings.</param>
    /// <param name="openSession">Opens a session on a variant's graph (through the graph cache); null = build here.</param>
    ISegmentRunner CreateSegmentRunner(int segmentLength, int? highestLayer = null, SessionSettings? settings = null,
        Func<IEncoderArchitecture, GraphRequest, EncoderSession>? openSession = null) =>
        throw new NotSupportedException($"{Name} embeds long texts by windows, not segment recurrence");

    /// <summary>Builds the graph for a request.</summary>
    ModelProto BuildGraph(GraphRequest request);
}

/// <summary>How an architecture embeds a text longer than its window.</summary>
public enum LongTextStrategy
{
    /// <summary>Consecutive windows, each run on its own; their vectors averaged by token count (BERT family).</summary>
    Windows,
    /// <summary>Consecutive segments, each attending to the memory of the ones before (Transformer-XL, XLNet).</summary>
    SegmentRecurrence,
}

/// <summary>Hidden states of a whole long text and the memory left after its last segment.</summary>
/// <param name="HiddenStates">hidden_states.k for k = 0..HighestLayer, each [1, total length, hidden].</param>
/// <param name="Memories">new_mems.k after the last segment, k = 0..HighestLayer-1, each [≤ memory length, 1, hidden].</param>
/// <param name="SegmentCount">How many segments the text was cut into.</param>
internal sealed record SegmentRunResult(
    IReadOnlyList<DenseTensor<float>> HiddenStates, IReadOnlyList<DenseTensor<float>> Memories, int SegmentCount);

/// <summary>Runs one long id sequence as consecutive segments with memory (see <see cref="LongTextStrategy.SegmentRecurrence"/>).</summary>
internal interface ISegmentRunner : IDisposable
{
    /// <summary>Positions of memory carried from segment to segment.</summary>
    int MemoryLength { get; }

    /// <summary>Runs <paramref name="ids"/> (special tokens included, no padding) segment by segment.</summary>
    SegmentRunResult Run(IReadOnlyList<long> ids, IReadOnlyList<long>? typeIds = null);
}
