using System.CommandLine;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed hidden-states --model M --input io.safetensors --output out.safetensors</c>: reads int64 <c>input_ids</c>,
/// <c>attention_mask</c> and <c>token_type_ids</c> [B, T] and writes every <c>hidden_states.k</c> (k = 0..L, float32
/// [B, T, H]). Reference data is checked through this contract; keep it exactly.
/// XLNet also reads optional float <c>mems.k</c> [M, B, H] (k = 0..L-1) from the input and writes <c>new_mems.k</c> when
/// the run has a memory length; <c>--attn-type</c>, <c>--mem-len</c>, <c>--clamp-len</c> override the config;
/// <c>--segment-length N</c> runs each row as consecutive N-token segments with memory (segment recurrence).
/// </summary>
internal static class HiddenStatesCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model folder, .onnx file or built-in name (default: minilm)." };
        var input = new Option<string>("--input") { Description = "safetensors file with int64 input_ids, attention_mask, token_type_ids [batch, sequence].", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write hidden_states.0 .. hidden_states.L (float32 [batch, sequence, hidden]).", Required = true };
        var attnType = new Option<string>("--attn-type") { Description = "XLNet: attention type, bi or uni (default: the config's)." };
        var memLen = new Option<int?>("--mem-len") { Description = "XLNet: positions of memory to hand on as new_mems.k; 0 = none (default: the config's mem_len)." };
        var clampLen = new Option<int?>("--clamp-len") { Description = "XLNet: clamp relative distances to ±N; -1 = no clamp (default: the config's clamp_len)." };
        var segmentLength = new Option<int?>("--segment-length") { Description = "XLNet: run each (unpadded) row as consecutive segments of N tokens, each attending to the previous segments' memory." };
        var command = new Command("hidden-states", "Run the encoder on token ids and write every layer's hidden state.");
        command.Options.Add(model);
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(attnType);
        command.Options.Add(memLen);
        command.Options.Add(clampLen);
        command.Options.Add(segmentLength);
        command.SetAction(parseResult => CliApp.Guard(ctx, () =>
        {
            string inputPath = parseResult.GetValue(input)!;
            string outputPath = parseResult.GetValue(output)!;
            var inputs = ReadInputs(inputPath);
            var memories = ReadMemories(inputPath, inputs[GraphNames.InputIds].Shape[0]);
            var overrides = new XLNetRunOverrides(
                parseResult.GetValue(attnType) is { } type ? XLNetRunSettings.ParseAttentionType(type, "--attn-type") : null,
                parseResult.GetValue(memLen) is { } m ? (m >= 0 ? m : throw KeyEmbedException.Input($"--mem-len must be 0 or positive, got {m}")) : null,
                parseResult.GetValue(clampLen),
                MemoryInputs: memories.Count > 0);
            using var loaded = LoadedModel.Open(parseResult.GetValue(model), overrides.Any ? overrides : null);
            loaded.CheckInputs(inputs, inputPath);
            CheckMemories(memories, loaded, inputPath);
            if (parseResult.GetValue(segmentLength) is { } window)
            {
                var (segmented, memoryLength) = RunSegmented(loaded, inputs, memories, window, inputPath);
                Write(segmented, loaded, outputPath, ctx,
                    ("segment_length", window.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    ("mem_len", memoryLength.ToString(System.Globalization.CultureInfo.InvariantCulture)));
                return 0;
            }
            var request = loaded.AllHiddenStates;
            using var session = loaded.CreateSession(request, cache: new GraphCache());
            var names = Enumerable.Range(0, loaded.Architecture.LayerCount + 1).Select(k => GraphNames.HiddenState(k)).ToList();
            names.AddRange(Enumerable.Range(0, loaded.Architecture.LayerCount).Select(k => GraphNames.NewMemory(k)).Where(session.OutputNames.Contains));
            var results = session.Run(inputs, names, memories);
            Write(names.ToDictionary(n => n, n => results[n]), loaded, outputPath, ctx);
            return 0;
        }));
        return command;
    }

    private static void Write(Dictionary<string, DenseTensor<float>> results, LoadedModel loaded, string outputPath, CliContext ctx,
        params (string Key, string Value)[] extraMetadata)
    {
        var writer = new SafetensorsWriter().AddMetadata("model", loaded.Files.Source);
        foreach (var (key, value) in loaded.Architecture.RunMetadata) writer.AddMetadata(key, value);
        foreach (var (key, value) in extraMetadata) writer.AddMetadata(key, value);
        foreach (var (name, tensor) in results) writer.Add(name, tensor.Shape, tensor.Data);
        writer.Save(outputPath);
        int memoryCount = results.Keys.Count(n => n.StartsWith(GraphNames.NewMemoryPrefix, StringComparison.Ordinal));
        ctx.Out.WriteLine($"wrote {results.Count - memoryCount} hidden states {results[GraphNames.HiddenState(0)].ShapeText}" +
            (memoryCount > 0 ? $" and {memoryCount} memories {results[GraphNames.NewMemory(0)].ShapeText}" : "") + $" to {outputPath}");
    }

    /// <summary>
    /// Segment recurrence per row (<see cref="ISegmentRunner"/>): rows must be unpadded; new_mems.k is the memory
    /// after each row's last segment, stacked sequence-first [M, batch, H].
    /// </summary>
    private static (Dictionary<string, DenseTensor<float>> Results, int MemoryLength) RunSegmented(LoadedModel loaded, Dictionary<string, DenseTensor<long>> inputs,
        Dictionary<string, DenseTensor<float>> memories, int window, string path)
    {
        var arch = loaded.Architecture;
        if (arch.LongText != LongTextStrategy.SegmentRecurrence)
            throw KeyEmbedException.Input($"--segment-length applies to models with segment recurrence (XLNet) only; {loaded.Files.Source} is {arch.Name}");
        if (memories.Count > 0)
            throw KeyEmbedException.Input($"{path}: --segment-length starts from an empty memory; remove the mems.k tensors or the option");
        if (inputs[GraphNames.AttentionMask].Data.Any(m => m != 1))
            throw KeyEmbedException.Input($"{path}: --segment-length runs rows without padding; {GraphNames.AttentionMask} must be all 1");
        var ids = inputs[GraphNames.InputIds];
        int batch = (int)ids.Shape[0], length = (int)ids.Shape[1], width = arch.HiddenSize;
        using var runner = arch.CreateSegmentRunner(window);
        var rows = Enumerable.Range(0, batch).Select(r => runner.Run(
            ids.Data.AsSpan(r * length, length).ToArray(),
            inputs[GraphNames.TokenTypeIds].Data.AsSpan(r * length, length).ToArray())).ToList();
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
        return (results, runner.MemoryLength);
    }

    /// <summary>Reads the optional XLNet memories <c>mems.k</c> [M, batch, H]: float, one memory length for all.</summary>
    internal static Dictionary<string, DenseTensor<float>> ReadMemories(string path, long batch)
    {
        using var reader = new SafetensorsReader(path);
        var result = new Dictionary<string, DenseTensor<float>>(StringComparer.Ordinal);
        long? length = null;
        foreach (var info in reader.Tensors.Where(t => t.Name.StartsWith(GraphNames.MemoryPrefix, StringComparison.Ordinal)))
        {
            if (info.Shape.Length != 3 || info.Shape[1] != batch)
                throw KeyEmbedException.Input($"{path}: '{info.Name}' has shape {info.ShapeText}; expected [memory length, {batch}, hidden] (sequence-first)");
            if (length is not null && info.Shape[0] != length)
                throw KeyEmbedException.Input($"{path}: '{info.Name}' holds {info.Shape[0]} positions but another mems tensor holds {length}; all layers need the same memory length");
            length = info.Shape[0];
            result[info.Name] = new(reader.ReadFloat32(info.Name), info.Shape);
        }
        return result;
    }

    /// <summary>Every layer needs its memory (mems.0 .. mems.L-1), as wide as the model.</summary>
    private static void CheckMemories(Dictionary<string, DenseTensor<float>> memories, LoadedModel loaded, string path)
    {
        if (memories.Count == 0) return;
        var arch = loaded.Architecture;
        var expected = Enumerable.Range(0, arch.LayerCount).Select(k => GraphNames.Memory(k)).ToList();
        if (!memories.Keys.Order(StringComparer.Ordinal).SequenceEqual(expected.Order(StringComparer.Ordinal)))
            throw KeyEmbedException.Input($"{path}: memory tensors {string.Join(", ", memories.Keys.Order(StringComparer.Ordinal))} given; this model needs exactly {string.Join(", ", expected)}");
        foreach (var (name, tensor) in memories)
            if (tensor.Shape[2] != arch.HiddenSize)
                throw KeyEmbedException.Input($"{path}: '{name}' has width {tensor.Shape[2]}; this model's d_model is {arch.HiddenSize}");
    }

    /// <summary>Reads and checks the three id tensors; a missing mask means all ones, missing type ids all zeros.</summary>
    internal static Dictionary<string, DenseTensor<long>> ReadInputs(string path)
    {
        using var reader = new SafetensorsReader(path);
        if (!reader.TryGetInfo(GraphNames.InputIds, out var ids))
            throw KeyEmbedException.Input($"{path}: no '{GraphNames.InputIds}' tensor (int64 [batch, sequence])");
        if (ids.Shape.Length != 2 || ids.Shape[0] == 0 || ids.Shape[1] == 0)
            throw KeyEmbedException.Input($"{path}: '{GraphNames.InputIds}' has shape {ids.ShapeText}; expected a non-empty [batch, sequence]");
        var result = new Dictionary<string, DenseTensor<long>> { [GraphNames.InputIds] = new(reader.ReadInt64(GraphNames.InputIds), ids.Shape) };
        foreach (var (name, fill) in new[] { (GraphNames.AttentionMask, 1L), (GraphNames.TokenTypeIds, 0L) })
        {
            if (reader.TryGetInfo(name, out var info))
            {
                if (!info.Shape.SequenceEqual(ids.Shape))
                    throw KeyEmbedException.Input($"{path}: '{name}' has shape {info.ShapeText} but {GraphNames.InputIds} has {ids.ShapeText}");
                result[name] = new(reader.ReadInt64(name), info.Shape);
            }
            else
            {
                result[name] = new(Enumerable.Repeat(fill, (int)ids.ElementCount).ToArray(), ids.Shape);
            }
        }
        return result;
    }
}
