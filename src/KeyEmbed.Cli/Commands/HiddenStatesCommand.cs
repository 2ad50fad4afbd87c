using System.CommandLine;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed hidden-states --model M --input io.safetensors --output out.safetensors</c>: reads int64 <c>input_ids</c>,
/// <c>attention_mask</c> and <c>token_type_ids</c> [B, T] and writes every <c>hidden_states.k</c> (k = 0..L, float32
/// [B, T, H]). Reference data is checked through this contract; keep it exactly.
/// </summary>
internal static class HiddenStatesCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model folder, .onnx file or built-in name (default: minilm)." };
        var input = new Option<string>("--input") { Description = "safetensors file with int64 input_ids, attention_mask, token_type_ids [batch, sequence].", Required = true };
        var output = new Option<string>("--output") { Description = "safetensors file to write hidden_states.0 .. hidden_states.L (float32 [batch, sequence, hidden]).", Required = true };
        var command = new Command("hidden-states", "Run the encoder on token ids and write every layer's hidden state.");
        command.Options.Add(model);
        command.Options.Add(input);
        command.Options.Add(output);
        command.SetAction(parseResult => CliApp.Guard(ctx, () =>
        {
            string inputPath = parseResult.GetValue(input)!;
            string outputPath = parseResult.GetValue(output)!;
            var inputs = ReadInputs(inputPath);
            using var loaded = LoadedModel.Open(parseResult.GetValue(model));
            loaded.CheckInputs(inputs, inputPath);
            var request = loaded.AllHiddenStates;
            using var session = loaded.CreateSession(request, cache: new GraphCache());
            var names = Enumerable.Range(0, loaded.Architecture.LayerCount + 1).Select(k => $"hidden_states.{k}").ToList();
            var results = session.Run(inputs, names);
            var writer = new SafetensorsWriter().AddMetadata("model", loaded.Files.Source);
            foreach (var name in names) writer.Add(name, results[name].Shape, results[name].Data);
            writer.Save(outputPath);
            ctx.Out.WriteLine($"wrote {names.Count} hidden states {results[names[0]].ShapeText} to {outputPath}");
            return 0;
        }));
        return command;
    }

    /// <summary>Reads and checks the three id tensors; a missing mask means all ones, missing type ids all zeros.</summary>
    internal static Dictionary<string, DenseTensor<long>> ReadInputs(string path)
    {
        using var reader = new SafetensorsReader(path);
        if (!reader.TryGetInfo("input_ids", out var ids))
            throw KeyEmbedException.Input($"{path}: no 'input_ids' tensor (int64 [batch, sequence])");
        if (ids.Shape.Length != 2 || ids.Shape[0] == 0 || ids.Shape[1] == 0)
            throw KeyEmbedException.Input($"{path}: 'input_ids' has shape {ids.ShapeText}; expected a non-empty [batch, sequence]");
        var result = new Dictionary<string, DenseTensor<long>> { ["input_ids"] = new(reader.ReadInt64("input_ids"), ids.Shape) };
        foreach (var (name, fill) in new[] { ("attention_mask", 1L), ("token_type_ids", 0L) })
        {
            if (reader.TryGetInfo(name, out var info))
            {
                if (!info.Shape.SequenceEqual(ids.Shape))
                    throw KeyEmbedException.Input($"{path}: '{name}' has shape {info.ShapeText} but input_ids has {ids.ShapeText}");
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
