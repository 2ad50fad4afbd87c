using KeyEmbed.Models;

namespace KeyEmbed;

/// <summary>
/// What a model is, as <c>keyembed inspect</c> shows it: its architecture's facts, where its files are, what each stored
/// tensor became and which stored tensors the encoder does not use (and why). Reading it builds no graph.
/// </summary>
/// <param name="Source">Where the model came from, as the user named it.</param>
/// <param name="BuiltInName">The built-in model's name, or null for a model on disk.</param>
/// <param name="WeightFormat">The format its weights were read from (safetensors, TensorFlow checkpoint, …).</param>
/// <param name="Facts">The architecture's facts (architecture, layers, hidden size, heads, …), in display order.</param>
/// <param name="ParameterCount">Parameters the encoder uses.</param>
/// <param name="TensorUses">Stored tensor name → the encoder weight(s) it fills, in file order; empty when the architecture does not say.</param>
/// <param name="Files">Each file's role and path.</param>
/// <param name="IgnoredTensors">Stored tensors the encoder does not use, each with why.</param>
public sealed record ModelDescription(
    string Source,
    string? BuiltInName,
    string WeightFormat,
    IReadOnlyList<KeyValuePair<string, string>> Facts,
    long ParameterCount,
    IReadOnlyList<KeyValuePair<string, string>> TensorUses,
    IReadOnlyList<KeyValuePair<string, string>> Files,
    IReadOnlyList<KeyValuePair<string, string>> IgnoredTensors)
{
    /// <summary>Locates and opens a model (folder, .onnx file, Hugging Face name or built-in name; null = the built-in default) and describes it.</summary>
    /// <param name="model">Where the model is.</param>
    public static ModelDescription Read(string? model)
    {
        using var loaded = LoadedModel.Open(model);
        var arch = loaded.Architecture;
        return new ModelDescription(
            loaded.Files.Source,
            loaded.Files.BuiltInName,
            loaded.Weights.Format,
            arch.Facts,
            arch.ParameterCount,
            arch.TensorUses,
            loaded.Files.Describe(),
            [.. arch.IgnoredWeights.Select(name => KeyValuePair.Create(name, arch.WhyIgnored(name) ?? "not used by the encoder"))]);
    }
}
