using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Runtime;
using Xunit.Abstractions;

namespace KeyEmbed.Tests.Architectures.XLNet;

public sealed class XLNetGraphTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("xlnet-tiny-bi")]
    [InlineData("xlnet-tiny-mems")]
    [InlineData("xlnet-tiny-uni")]
    public void Reproduces_golden_hidden_states_and_memories(string caseName)
    {
        using var weights = new SafetensorsReader(SharedData.Golden(caseName, "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden(caseName, "config.json"));
        float worst = XLNetGolden.AssertReproduces(caseName, weights, config);
        output.WriteLine($"{caseName}: max abs error {worst:E2}");
    }

    [Fact]
    public void Mems_case_hands_on_the_last_mem_len_positions_of_memory_and_layer_input()
    {
        // new_mems.0 = last 6 of [mems.0 (4) ; hidden_states.0 (5)] — checked directly, not only against the golden file.
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-mems", "config.json"));
        using var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "io.safetensors"));
        var results = XLNetGolden.Run(XLNetGraph.Load(weights, config, XLNetGolden.SettingsFor(io, config)), io);
        var memory = io.ReadFloat32("mems.0");                        // [4, 2, 16]
        var input = results["hidden_states.0"];                       // [2, 5, 16]
        var handed = results["new_mems.0"];                           // [6, 2, 16]
        Assert.Equal([6L, 2, 16], handed.Shape);
        for (int p = 0; p < 6; p++)
            for (int row = 0; row < 2; row++)
                for (int c = 0; c < 16; c++)
                {
                    int position = 3 + p; // of the 9 = 4 memory + 5 input positions
                    float expected = position < 4
                        ? memory[(position * 2 + row) * 16 + c]
                        : input.Data[(row * 5 + position - 4) * 16 + c];
                    Assert.Equal(expected, handed.Data[(p * 2 + row) * 16 + c]);
                }
    }

    [Fact]
    public void Empty_memory_input_gives_the_same_states_as_a_graph_without_memory_inputs()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));
        using var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "io.safetensors"));
        var plain = XLNetGolden.Run(XLNetGraph.Load(weights, config), io);

        var withMemory = XLNetGraph.Load(weights, config, config.DefaultRunSettings with { MemoryInputs = true, MemoryLength = 4 });
        using var session = new EncoderSession(withMemory.BuildGraph(new GraphRequest(3)).ToByteArray());
        Assert.Contains("mems.2", session.InputNames);
        var ints = new Dictionary<string, DenseTensor<long>>();
        foreach (var name in new[] { "input_ids", "attention_mask", "token_type_ids" })
            ints[name] = new DenseTensor<long>(io.ReadInt64(name), [3, 11]);
        var floats = Enumerable.Range(0, 3).ToDictionary(k => $"mems.{k}", _ => new DenseTensor<float>([], [0, 3, 16]));
        var results = session.Run(ints, session.OutputNames, floats);
        for (int k = 0; k <= 3; k++)
            XLNetGolden.AssertClose(plain[$"hidden_states.{k}"].Data, results[$"hidden_states.{k}"].Data, $"hidden_states.{k}");
        Assert.Equal([4L, 3, 16], results["new_mems.0"].Shape);
    }

    [Fact]
    public void Graph_cut_at_a_lower_layer_exposes_only_requested_states()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));
        var graph = XLNetGraph.Load(weights, config);
        var model = graph.BuildGraph(new GraphRequest(2, [2]));
        Assert.Equal(["hidden_states.2"], model.Graph.Output.Select(o => o.Name));
        Assert.Throws<KeyEmbedException>(() => graph.BuildGraph(new GraphRequest(4)));
    }

    [Fact]
    public void Overridden_attention_type_changes_the_states()
    {
        // The uni case run as bi must no longer match: the setting really reaches the graph.
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-uni", "config.json"));
        using var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "io.safetensors"));
        var asBi = XLNetGolden.SettingsFor(io, config) with { AttentionType = XLNetAttentionType.Bi };
        var results = XLNetGolden.Run(XLNetGraph.Load(weights, config, asBi), io);
        var expected = io.ReadFloat32("hidden_states.3");
        float worst = expected.Zip(results["hidden_states.3"].Data, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst > 1e-2, $"bi and uni agree within {worst}");
    }

    [Fact]
    public void Facts_name_layers_width_heads_and_memory_settings()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-mems", "config.json"));
        var graph = XLNetGraph.Load(weights, config);
        var facts = graph.Facts.ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal("3", facts["layers"]);
        Assert.Equal("16 (d_model)", facts["hidden size"]);
        Assert.StartsWith("2 (n_head)", facts["attention heads"]);
        Assert.Equal("6", facts["mem_len"]);
        Assert.Equal("bi", facts["attn_type"]);
        Assert.Equal(PaddingSide.Left, graph.PaddingSide);
        Assert.Null(graph.MaxSequenceLength);
        Assert.Contains("transformer.mask_emb", graph.IgnoredWeights);
        Assert.Equal(weights.Tensors.Where(t => t.Name != "transformer.mask_emb").Sum(t => t.ElementCount), graph.ParameterCount);
    }

    [Fact]
    public void Reuse_len_keeps_only_the_first_positions_of_the_layer_input_in_memory()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-mems", "config.json"));
        using var io = new SafetensorsReader(SharedData.Golden("xlnet-tiny-mems", "io.safetensors"));
        var settings = XLNetGolden.SettingsFor(io, config) with { ReuseLength = 3 };
        var results = XLNetGolden.Run(XLNetGraph.Load(weights, config, settings), io);
        var memory = io.ReadFloat32("mems.1");                         // [4, 2, 16]
        var input = results["hidden_states.1"];                        // [2, 5, 16]
        var handed = results["new_mems.1"];                            // last 6 of 4 memory + 3 reused = positions 1..6
        Assert.Equal([6L, 2, 16], handed.Shape);
        for (int p = 0; p < 6; p++)
            for (int row = 0; row < 2; row++)
                for (int c = 0; c < 16; c++)
                {
                    int position = 1 + p;
                    float expected = position < 4 ? memory[(position * 2 + row) * 16 + c] : input.Data[(row * 5 + position - 4) * 16 + c];
                    Assert.Equal(expected, handed.Data[(p * 2 + row) * 16 + c]);
                }
    }

    [Fact]
    public void Uni_same_length_without_memory_lets_each_position_see_only_itself()
    {
        // same_length hides keys before the query too; with no memory each position then equals that token run alone.
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-uni", "config.json"));
        var graph = XLNetGraph.Load(weights, config, config.DefaultRunSettings with { SameLength = true });
        using var session = new EncoderSession(graph.BuildGraph(new GraphRequest(3)).ToByteArray());
        long[] ids = [7, 19, 33, 8, 50];
        Dictionary<string, DenseTensor<long>> Inputs(long[] x) => new()
        {
            ["input_ids"] = new(x, [1, x.Length]),
            ["attention_mask"] = new(Enumerable.Repeat(1L, x.Length).ToArray(), [1, x.Length]),
            ["token_type_ids"] = new(new long[x.Length], [1, x.Length]),
        };
        var together = session.Run(Inputs(ids), ["hidden_states.3"])["hidden_states.3"].Data;
        for (int i = 0; i < ids.Length; i++)
        {
            var alone = session.Run(Inputs([ids[i]]), ["hidden_states.3"])["hidden_states.3"].Data;
            XLNetGolden.AssertClose(alone, together[(i * 16)..((i + 1) * 16)], $"position {i}");
        }
        var plain = XLNetGraph.Load(weights, config);
        using var plainSession = new EncoderSession(plain.BuildGraph(new GraphRequest(3)).ToByteArray());
        var causal = plainSession.Run(Inputs(ids), ["hidden_states.3"])["hidden_states.3"].Data;
        Assert.True(causal.Zip(together, (a, b) => Math.Abs(a - b)).Max() > 1e-2); // without same_length it differs
    }
}
