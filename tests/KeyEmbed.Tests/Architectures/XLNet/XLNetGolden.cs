using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.XLNet;

/// <summary>Runs a golden XLNet case's inputs through a built graph and compares every expected tensor.</summary>
internal static class XLNetGolden
{
    public const float Tolerance = 1e-4f;

    /// <summary>The run settings the case's io.safetensors metadata names, over the config's defaults.</summary>
    public static XLNetRunSettings SettingsFor(SafetensorsReader io, XLNetConfig config)
    {
        var meta = io.Metadata;
        Assert.Equal("left", meta["padding_side"]);
        return config.DefaultRunSettings with
        {
            AttentionType = XLNetRunSettings.ParseAttentionType(meta["attn_type"], "io.safetensors"),
            MemoryLength = int.Parse(meta["mem_len"], System.Globalization.CultureInfo.InvariantCulture),
            ClampLength = int.Parse(meta["clamp_len"], System.Globalization.CultureInfo.InvariantCulture),
            MemoryInputs = io.TryGetInfo("mems.0", out _),
        };
    }

    /// <summary>Every <c>hidden_states.k</c> / <c>new_mems.k</c> in the io file, reproduced within 1e-4; returns the worst error.</summary>
    public static float AssertReproduces(string caseName, ITensorSource weights, XLNetConfig config)
    {
        using var io = new SafetensorsReader(SharedData.Golden(caseName, "io.safetensors"));
        var graph = XLNetGraph.Load(weights, config, SettingsFor(io, config));
        var results = Run(graph, io);
        var expectedNames = io.Tensors.Select(t => t.Name)
            .Where(n => n.StartsWith("hidden_states.", StringComparison.Ordinal) || n.StartsWith("new_mems.", StringComparison.Ordinal))
            .ToList();
        Assert.Equal(config.LayerCount + 1, expectedNames.Count(n => n.StartsWith("hidden_states.", StringComparison.Ordinal)));
        float worst = 0;
        foreach (var name in expectedNames)
        {
            Assert.True(io.TryGetInfo(name, out var info));
            Assert.True(results.ContainsKey(name), $"graph has no output {name}");
            Assert.Equal(info.Shape, results[name].Shape);
            worst = Math.Max(worst, AssertClose(io.ReadFloat32(name), results[name].Data, name));
        }
        return worst;
    }

    public static Dictionary<string, DenseTensor<float>> Run(XLNetGraph graph, SafetensorsReader io)
    {
        using var session = new EncoderSession(graph.BuildGraph(new GraphRequest(graph.LayerCount)).ToByteArray());
        var ints = new Dictionary<string, DenseTensor<long>>();
        foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" })
        {
            Assert.True(io.TryGetInfo(name, out var info));
            ints[name] = new DenseTensor<long>(io.ReadInt64(name), info.Shape);
        }
        var floats = new Dictionary<string, DenseTensor<float>>();
        foreach (var info in io.Tensors.Where(t => t.Name.StartsWith("mems.", StringComparison.Ordinal)))
            floats[info.Name] = new DenseTensor<float>(io.ReadFloat32(info.Name), info.Shape);
        return session.Run(ints, session.OutputNames, floats);
    }

    public static float AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Assert.True(worst <= Tolerance, $"{what}: max abs error {worst} > {Tolerance}");
        return worst;
    }
}
