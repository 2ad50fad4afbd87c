using System.CommandLine;
using System.Globalization;
using KeyEmbed.Models;

namespace KeyEmbed.Cli.Commands;

/// <summary><c>keyembed inspect [--model M]</c>: what a model is, where its files are, what it ignores.</summary>
internal static class InspectCommand
{
    public static Command Create(CliContext ctx)
    {
        var model = new Option<string>("--model") { Description = "Model folder, .onnx file or built-in name (default: minilm)." };
        var command = new Command("inspect", "Show a model's architecture, sizes, files, parameter count and ignored tensors.");
        command.Options.Add(model);
        command.SetAction(parseResult => CliApp.Guard(ctx, () =>
        {
            using var loaded = LoadedModel.Open(parseResult.GetValue(model));
            var o = ctx.Out;
            var files = loaded.Files;
            var arch = loaded.Architecture;
            o.WriteLine($"model: {files.Source}{(files.BuiltInName != null ? " (built-in: all-MiniLM-L6-v2)" : "")}");
            o.WriteLine($"source format: {loaded.Weights.Format}");
            foreach (var (key, value) in arch.Facts) o.WriteLine($"{key}: {value}");
            o.WriteLine($"parameters: {arch.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} ({arch.ParameterCount / 1e6:0.0} M)");
            if (arch.TensorUses.Count > 0)
            {
                o.WriteLine($"tensors used: {arch.TensorUses.Count}");
                foreach (var (stored, became) in arch.TensorUses) o.WriteLine($"  {stored} -> {became}");
            }
            o.WriteLine("files:");
            foreach (var (role, path) in files.Describe()) o.WriteLine($"  {role}: {path}");
            o.WriteLine($"ignored tensors: {arch.IgnoredWeights.Count}");
            foreach (var name in arch.IgnoredWeights)
            {
                string why = arch.WhyIgnored(name) ?? "not used by the encoder";
                o.WriteLine($"  {name} ({why})");
            }
            return 0;
        }));
        return command;
    }
}
