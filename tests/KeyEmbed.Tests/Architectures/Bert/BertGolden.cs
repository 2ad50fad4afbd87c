using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.Bert;

/// <summary>Reads a golden case's inputs and compares computed hidden states with its expected ones.</summary>
internal static class BertGolden
{
    public const float Tolerance = 1e-4f;

    public static Dictionary<string, DenseTensor<long>> Inputs(string goldenCase)
    {
        using var io = new SafetensorsReader(SharedData.Golden(goldenCase, "io.safetensors"));
        var result = new Dictionary<string, DenseTensor<long>>();
        foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" })
        {
            Assert.True(io.TryGetInfo(name, out var info));
            result[name] = new DenseTensor<long>(io.ReadInt64(name), info.Shape);
        }
        return result;
    }

    /// <summary>Number of hidden states (L + 1) in the case.</summary>
    public static int HiddenStateCount(string goldenCase)
    {
        using var io = new SafetensorsReader(SharedData.Golden(goldenCase, "io.safetensors"));
        return io.Tensors.Count(t => t.Name.StartsWith("hidden_states.", StringComparison.Ordinal));
    }

    /// <summary>Max absolute difference over every element (padding included) of each listed hidden state.</summary>
    public static void AssertMatches(string goldenCase, Func<string, (float[] Data, long[] Shape)> actual, IEnumerable<int> layers)
    {
        using var io = new SafetensorsReader(SharedData.Golden(goldenCase, "io.safetensors"));
        foreach (int k in layers)
        {
            string name = $"hidden_states.{k}";
            Assert.True(io.TryGetInfo(name, out var info), $"{goldenCase} has no {name}");
            var expected = io.ReadFloat32(name);
            var (data, shape) = actual(name);
            Assert.Equal(info.Shape, shape);
            float worst = 0;
            for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - data[i]));
            Assert.True(worst <= Tolerance, $"{goldenCase} {name}: max abs error {worst:E3} > {Tolerance:E0}");
        }
    }

    public static void AssertMatches(string goldenCase, IReadOnlyDictionary<string, DenseTensor<float>> actual) =>
        AssertMatches(goldenCase, n => (actual[n].Data, actual[n].Shape), Enumerable.Range(0, HiddenStateCount(goldenCase)));

    public static void AssertFileMatches(string goldenCase, string outputPath)
    {
        using var output = new SafetensorsReader(outputPath);
        AssertMatches(goldenCase, n =>
        {
            Assert.True(output.TryGetInfo(n, out var info), $"output lacks {n}");
            return (output.ReadFloat32(n), info.Shape);
        }, Enumerable.Range(0, HiddenStateCount(goldenCase)));
    }
}
