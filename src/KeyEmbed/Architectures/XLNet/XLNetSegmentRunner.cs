using Google.Protobuf;
using KeyEmbed.Runtime;

namespace KeyEmbed.Architectures.XLNet;

/// <summary>
/// Transformer-XL segment recurrence (XLNet paper §2.5; Dai et al. 2019 §3.2): a token sequence longer than the window
/// runs as consecutive segments of <see cref="SegmentLength"/> tokens; every layer of a segment also attends to
/// the memory the previous segments left (their <c>new_mems.k</c> fed back as <c>mems.k</c>), so context flows forward
/// across segment borders. Runs one sequence (batch of one, no padding); ids are taken as given, special tokens included.
/// </summary>
internal sealed class XLNetSegmentRunner : ISegmentRunner
{
    private readonly EncoderSession _session;
    private readonly string[] _outputs;

    /// <param name="graph">The loaded model; its attention type and clamp are kept.</param>
    /// <param name="segmentLength">Tokens per segment (the window), &gt; 0.</param>
    /// <param name="highestLayer">Highest layer computed; null = all.</param>
    /// <param name="sessionSettings">ONNX Runtime settings.</param>
    /// <param name="openSession">
    /// Opens the session on the runner's graph (e.g. through <c>LoadedModel.CreateSession</c> and the graph cache);
    /// null = build the graph here and open it with <paramref name="sessionSettings"/>.
    /// </param>
    /// <remarks>Memory length: the graph's mem_len, or <paramref name="segmentLength"/> when the model has none.</remarks>
    public XLNetSegmentRunner(XLNetGraph graph, int segmentLength, int? highestLayer = null, SessionSettings? sessionSettings = null,
        Func<XLNetGraph, GraphRequest, EncoderSession>? openSession = null)
    {
        if (segmentLength <= 0) throw KeyEmbedException.Input($"segment length must be positive, got {segmentLength}");
        HighestLayer = highestLayer ?? graph.LayerCount;
        if (HighestLayer < 0 || HighestLayer > graph.LayerCount)
            throw KeyEmbedException.Input($"layer {HighestLayer} does not exist: this XLNet model has layers 0..{graph.LayerCount}", nameof(KeyEmbed.Embedding.EmbeddingOptions.Layers));
        SegmentLength = segmentLength;
        int memoryLength = graph.Settings.MemoryLength > 0 ? graph.Settings.MemoryLength : segmentLength;
        Graph = graph.WithSettings(graph.Settings with { MemoryLength = memoryLength, MemoryInputs = true });
        _outputs =
        [
            .. Enumerable.Range(0, HighestLayer + 1).Select(GraphNames.HiddenState),
            .. Enumerable.Range(0, HighestLayer).Select(GraphNames.NewMemory),
        ];
        var request = new GraphRequest(HighestLayer);
        _session = openSession is null
            ? new EncoderSession(Graph.BuildGraph(request).ToByteArray(), sessionSettings)
            : openSession(Graph, request);
    }

    /// <summary>The model as this runner runs it: memory inputs on, mem_len set.</summary>
    public XLNetGraph Graph { get; }

    public int SegmentLength { get; }

    public int MemoryLength => Graph.Settings.MemoryLength;

    public int HighestLayer { get; }

    /// <summary>
    /// Runs <paramref name="ids"/> segment by segment. <paramref name="typeIds"/> (segment ids, same length) default to 0;
    /// memory positions count as segment 0, as in the reference.
    /// </summary>
    public SegmentRunResult Run(IReadOnlyList<long> ids, IReadOnlyList<long>? typeIds = null)
    {
        if (ids.Count == 0) throw KeyEmbedException.Input("segment recurrence needs at least one token id");
        if (typeIds is not null && typeIds.Count != ids.Count)
            throw KeyEmbedException.Input($"token type ids have {typeIds.Count} entries but there are {ids.Count} token ids");
        int width = Graph.HiddenSize;
        var states = Enumerable.Range(0, HighestLayer + 1).Select(_ => new float[ids.Count * width]).ToArray();
        var memories = Enumerable.Range(0, HighestLayer)
            .Select(_ => new DenseTensor<float>([], [0, 1, width])).ToArray();
        int segments = 0;
        for (int start = 0; start < ids.Count; start += SegmentLength, segments++)
        {
            int length = Math.Min(SegmentLength, ids.Count - start);
            long[] shape = [1, length];
            var intInputs = new Dictionary<string, DenseTensor<long>>
            {
                [GraphNames.InputIds] = new([.. ids.Skip(start).Take(length)], shape),
                [GraphNames.AttentionMask] = new([.. Enumerable.Repeat(1L, length)], shape),
                [GraphNames.TokenTypeIds] = new(typeIds is null ? new long[length] : [.. typeIds.Skip(start).Take(length)], shape),
            };
            var floatInputs = new Dictionary<string, DenseTensor<float>>();
            for (int k = 0; k < HighestLayer; k++) floatInputs[GraphNames.Memory(k)] = memories[k];
            var results = _session.Run(intInputs, _outputs, floatInputs);
            for (int k = 0; k <= HighestLayer; k++)
                results[GraphNames.HiddenState(k)].Data.CopyTo(states[k], start * width);
            for (int k = 0; k < HighestLayer; k++) memories[k] = results[GraphNames.NewMemory(k)];
        }
        return new SegmentRunResult(
            [.. states.Select(s => new DenseTensor<float>(s, [1, ids.Count, width]))], memories, segments);
    }

    public void Dispose() => _session.Dispose();
}
