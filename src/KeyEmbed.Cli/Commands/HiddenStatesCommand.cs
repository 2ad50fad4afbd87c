using System.CommandLine;
using System.Globalization;
using KeyEmbed.Checkpoints.Safetensors;
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
            var options = new EncoderRunOptions
            {
                AttentionType = parseResult.GetValue(attnType),
                MemoryLength = parseResult.GetValue(memLen),
                ClampLength = parseResult.GetValue(clampLen),
                MemoryInputs = memories.Count > 0,
            };
            using var encoder = CliApp.NamingFlags(() => HiddenStateEncoder.Open(parseResult.GetValue(model), options),
                (nameof(EncoderRunOptions.AttentionType), "--attn-type"), (nameof(EncoderRunOptions.MemoryLength), "--mem-len"));
            HiddenStates results;
            var metadata = new List<(string Key, string Value)>();
            if (parseResult.GetValue(segmentLength) is { } window)
            {
                if (memories.Count > 0)
                    throw KeyEmbedException.Input($"{inputPath}: --segment-length starts from an empty memory; remove the mems.k tensors or the option");
                results = encoder.RunSegmented(inputs, window, inputPath);
                metadata.Add(("segment_length", window.ToString(CultureInfo.InvariantCulture)));
                metadata.Add(("mem_len", results.MemoryLength!.Value.ToString(CultureInfo.InvariantCulture)));
            }
            else
            {
                results = encoder.Run(inputs, memories, inputPath);
            }
            Write(results.Tensors, encoder, outputPath, ctx, metadata);
            return 0;
        }));
        return command;
    }

    private static void Write(IReadOnlyDictionary<string, DenseTensor<float>> results, HiddenStateEncoder encoder, string outputPath, CliContext ctx,
        IEnumerable<(string Key, string Value)> extraMetadata)
    {
        var writer = new SafetensorsWriter().AddMetadata("model", encoder.Source);
        foreach (var (key, value) in encoder.RunMetadata) writer.AddMetadata(key, value);
        foreach (var (key, value) in extraMetadata) writer.AddMetadata(key, value);
        foreach (var (name, tensor) in results) writer.Add(name, tensor.Shape, tensor.Data);
        writer.Save(outputPath);
        int memoryCount = results.Keys.Count(n => n.StartsWith(GraphNames.NewMemoryPrefix, StringComparison.Ordinal));
        ctx.Out.WriteLine($"wrote {results.Count - memoryCount} hidden states {results[GraphNames.HiddenState(0)].ShapeText}" +
            (memoryCount > 0 ? $" and {memoryCount} memories {results[GraphNames.NewMemory(0)].ShapeText}" : "") + $" to {outputPath}");
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
