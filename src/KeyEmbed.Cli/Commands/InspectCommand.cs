using System.CommandLine;
using System.Globalization;

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
            var described = ModelDescription.Read(parseResult.GetValue(model));
            var o = ctx.Out;
            o.WriteLine($"model: {described.Source}{(described.BuiltInName != null ? " (built-in: all-MiniLM-L6-v2)" : "")}");
            o.WriteLine($"source format: {described.WeightFormat}");
            foreach (var (key, value) in described.Facts) o.WriteLine($"{key}: {value}");
            o.WriteLine($"parameters: {described.ParameterCount.ToString("N0", CultureInfo.InvariantCulture)} ({described.ParameterCount / 1e6:0.0} M)");
            if (described.TensorUses.Count > 0)
            {
                o.WriteLine($"tensors used: {described.TensorUses.Count}");
                foreach (var (stored, became) in described.TensorUses) o.WriteLine($"  {stored} -> {became}");
            }
            o.WriteLine("files:");
            foreach (var (role, path) in described.Files) o.WriteLine($"  {role}: {path}");
            o.WriteLine($"ignored tensors: {described.IgnoredTensors.Count}");
            foreach (var (name, why) in described.IgnoredTensors) o.WriteLine($"  {name} ({why})");
            return 0;
        }));
        return command;
    }
}
