using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed;

/// <summary>
/// Run settings of models with relative attention and memory (XLNet); null keeps the config's value. Other
/// architectures refuse any of them.
/// </summary>
public sealed record EncoderRunOptions
{
    /// <summary><c>bi</c> (bidirectional) or <c>uni</c> (each position sees only the ones before it).</summary>
    public string? AttentionType { get; init; }

    /// <summary>Positions of memory handed on as <c>new_mems.k</c>; 0 = none.</summary>
    public int? MemoryLength { get; init; }

    /// <summary>Relative distances clamped to ±N; -1 = no clamp.</summary>
    public int? ClampLength { get; init; }

    /// <summary>Whether the caller passes memories (<c>mems.k</c>) to <see cref="HiddenStateEncoder.Run"/>.</summary>
    public bool MemoryInputs { get; init; }

    internal XLNetRunOverrides? ToOverrides()
    {
        if (MemoryLength is < 0)
            throw KeyEmbedException.Input($"memory length must be 0 or positive, got {MemoryLength}", nameof(MemoryLength));
        XLNetAttentionType? attention = AttentionType switch
        {
            null => null,
            "bi" => XLNetAttentionType.Bi,
            "uni" => XLNetAttentionType.Uni,
            var other => throw KeyEmbedException.Input($"attention type '{other}' is not one of: bi, uni", nameof(AttentionType)),
        };
        var overrides = new XLNetRunOverrides(attention, MemoryLength, ClampLength, MemoryInputs);
        return overrides.Any ? overrides : null;
    }
}

/// <summary>Every hidden state of a run (and the memories it hands on), by graph output name.</summary>
/// <param name="Tensors"><c>hidden_states.k</c> [batch, sequence, hidden] for k = 0..L, then any <c>new_mems.k</c> [memory, batch, hidden].</param>
/// <param name="MemoryLength">Positions of memory carried between segments; null when the run was not segmented.</param>
public sealed record HiddenStates(IReadOnlyDictionary<string, DenseTensor<float>> Tensors, int? MemoryLength = null);

/// <summary>
/// The encoder below the embedding recipe: token ids in, every layer's hidden state out, for checking a model
/// against a reference implementation (<c>keyembed hidden-states</c>). Inputs are named as in <see cref="GraphNames"/>.
/// </summary>
public sealed class HiddenStateEncoder : IDisposable
{
    private readonly LoadedModel _model;

    private HiddenStateEncoder(LoadedModel model) => _model = model;

    /// <summary>Locates and opens a model (folder, .onnx file, Hugging Face name or built-in name; null = the built-in default).</summary>
    /// <param name="model">Where the model is.</param>
    /// <param name="options">XLNet run settings; null keeps the config's.</param>
    public static HiddenStateEncoder Open(string? model, EncoderRunOptions? options = null) =>
        new(LoadedModel.Open(model, options?.ToOverrides()));

    /// <summary>Where the model came from, as the user named it.</summary>
    public string Source => _model.Files.Source;

    /// <summary>The architecture's registry name (<c>bert</c>, <c>xlnet</c>, <c>roberta</c>, …).</summary>
    public string Architecture => _model.Architecture.Name;

    /// <summary>Number of transformer layers L (hidden states 0..L).</summary>
    public int LayerCount => _model.Architecture.LayerCount;

    /// <summary>Width of every hidden state.</summary>
    public int HiddenSize => _model.Architecture.HiddenSize;

    /// <summary>Settings of the run worth recording beside its hidden states (XLNet's attention type, memory and clamp lengths).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> RunMetadata => _model.Architecture.RunMetadata;

    /// <summary>
    /// Runs the encoder on <paramref name="inputs"/> (int64 <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c>
    /// [batch, sequence]) after checking them against the model, and returns every hidden state and any new memories.
    /// </summary>
    /// <param name="inputs">The id tensors.</param>
    /// <param name="memories">XLNet only: <c>mems.0</c> .. <c>mems.L-1</c> [memory, batch, hidden]; empty for none.</param>
    /// <param name="origin">Where the inputs came from, for error messages (a file name).</param>
    public HiddenStates Run(IReadOnlyDictionary<string, DenseTensor<long>> inputs, IReadOnlyDictionary<string, DenseTensor<float>>? memories = null, string origin = "inputs")
    {
        memories ??= new Dictionary<string, DenseTensor<float>>();
        _model.CheckInputs(inputs, origin);
        CheckMemories(memories, origin);
        using var session = _model.CreateSession(_model.AllHiddenStates, cache: new GraphCache());
        var arch = _model.Architecture;
        var names = Enumerable.Range(0, arch.LayerCount + 1).Select(GraphNames.HiddenState).ToList();
        names.AddRange(Enumerable.Range(0, arch.LayerCount).Select(GraphNames.NewMemory).Where(session.OutputNames.Contains));
        var results = session.Run(inputs, names, memories);
        return new HiddenStates(names.ToDictionary(n => n, n => results[n], StringComparer.Ordinal));
    }

    /// <summary>
    /// Segment recurrence per row (models with <see cref="LongTextStrategy.SegmentRecurrence"/>, XLNet): each unpadded row
    /// runs as consecutive segments of <paramref name="segmentLength"/> tokens; <c>new_mems.k</c> is the memory after each
    /// row's last segment, stacked sequence-first [memory, batch, hidden].
    /// </summary>
    /// <param name="inputs">The id tensors; the attention mask must be all 1.</param>
    /// <param name="segmentLength">Tokens per segment.</param>
    /// <param name="origin">Where the inputs came from, for error messages.</param>
    public HiddenStates RunSegmented(IReadOnlyDictionary<string, DenseTensor<long>> inputs, int segmentLength, string origin = "inputs")
    {
        var arch = _model.Architecture;
        if (arch.LongText != LongTextStrategy.SegmentRecurrence)
            throw KeyEmbedException.Input($"segment length applies to models with segment recurrence (XLNet) only; {Source} is {arch.Name}", "SegmentLength");
        _model.CheckInputs(inputs, origin);
        if (inputs.TryGetValue(GraphNames.AttentionMask, out var mask) && mask.Data.Any(m => m != 1))
            throw KeyEmbedException.Input($"{origin}: segmented runs take rows without padding; {GraphNames.AttentionMask} must be all 1");
        var ids = inputs[GraphNames.InputIds];
        int batch = (int)ids.Shape[0], length = (int)ids.Shape[1], width = arch.HiddenSize;
        inputs.TryGetValue(GraphNames.TokenTypeIds, out var types);
        using var runner = arch.CreateSegmentRunner(segmentLength);
        var rows = Enumerable.Range(0, batch).Select(r => runner.Run(
            ids.Data.AsSpan(r * length, length).ToArray(),
            types?.Data.AsSpan(r * length, length).ToArray())).ToList();
        var results = new Dictionary<string, DenseTensor<float>>(StringComparer.Ordinal);
        for (int k = 0; k <= arch.LayerCount; k++)
            results[GraphNames.HiddenState(k)] = new([.. rows.SelectMany(row => row.HiddenStates[k].Data)], [batch, length, width]);
        for (int k = 0; k < arch.LayerCount; k++)
        {
            int kept = (int)rows[0].Memories[k].Shape[0];
            var stacked = new float[kept * batch * width];
            for (int r = 0; r < batch; r++)
                for (int p = 0; p < kept; p++)
                    rows[r].Memories[k].Data.AsSpan(p * width, width).CopyTo(stacked.AsSpan((p * batch + r) * width));
            results[GraphNames.NewMemory(k)] = new(stacked, [kept, batch, width]);
        }
        return new HiddenStates(results, runner.MemoryLength);
    }

    // Every layer needs its memory (mems.0 .. mems.L-1), as wide as the model.
    private void CheckMemories(IReadOnlyDictionary<string, DenseTensor<float>> memories, string origin)
    {
        if (memories.Count == 0) return;
        var arch = _model.Architecture;
        var expected = Enumerable.Range(0, arch.LayerCount).Select(GraphNames.Memory).ToList();
        if (!memories.Keys.Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal)))
            throw KeyEmbedException.Input($"{origin}: memory tensors {string.Join(", ", memories.Keys.Order(StringComparer.Ordinal))} given; this model needs exactly {string.Join(", ", expected)}");
        foreach (var (name, tensor) in memories)
            if (tensor.Shape[2] != arch.HiddenSize)
                throw KeyEmbedException.Input($"{origin}: '{name}' has width {tensor.Shape[2]}; this model's d_model is {arch.HiddenSize}");
    }

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}
