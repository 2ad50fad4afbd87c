using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Architectures.XLNet;

public sealed class XLNetSegmentRunnerTests
{
    // A deterministic "long text" of ids inside the tiny models' vocabulary (64).
    private static readonly long[] LongIds = [.. Enumerable.Range(0, 13).Select(i => (long)((i * 37 + 11) % 60 + 4))];

    // One text of ids as the graph's int inputs ([1, n], all real tokens, segment 0).
    private static Dictionary<string, DenseTensor<long>> OneText(long[] ids) => new()
    {
        ["input_ids"] = new(ids, [1, ids.Length]),
        ["attention_mask"] = new(Enumerable.Repeat(1L, ids.Length).ToArray(), [1, ids.Length]),
        ["token_type_ids"] = new(new long[ids.Length], [1, ids.Length]),
    };

    [Fact]
    public void Segments_match_running_each_segment_by_hand_with_mems()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));
        var graph = XLNetGraph.Load(weights, config, config.DefaultRunSettings with { MemoryLength = 6 });
        using var runner = new XLNetSegmentRunner(graph, segmentLength: 5);
        var result = runner.Run(LongIds);
        Assert.Equal(3, result.SegmentCount);

        // By hand: the first segment through a graph without memory inputs, then feed new_mems back as mems.
        using var first = new EncoderSession(graph.BuildGraph(new GraphRequest(3)).ToByteArray());
        using var later = new EncoderSession(graph.WithSettings(graph.Settings with { MemoryInputs = true })
            .BuildGraph(new GraphRequest(3)).ToByteArray());
        var expected = Enumerable.Range(0, 4).Select(_ => new List<float>()).ToArray();
        Dictionary<string, DenseTensor<float>>? memories = null;
        foreach (var (start, length) in new[] { (0, 5), (5, 5), (10, 3) })
        {
            var session = memories is null ? first : later;
            var outputs = session.Run(OneText(LongIds[start..(start + length)]), session.OutputNames, memories);
            for (int k = 0; k <= 3; k++) expected[k].AddRange(outputs[$"hidden_states.{k}"].Data);
            memories = Enumerable.Range(0, 3).ToDictionary(k => $"mems.{k}", k => outputs[$"new_mems.{k}"]);
        }
        for (int k = 0; k <= 3; k++)
        {
            Assert.Equal([1L, 13, 16], result.HiddenStates[k].Shape);
            XLNetGolden.AssertClose([.. expected[k]], result.HiddenStates[k].Data, $"hidden_states.{k}");
        }
        Assert.Equal([6L, 1, 16], result.Memories[2].Shape);
        XLNetGolden.AssertClose(memories!["mems.2"].Data, result.Memories[2].Data, "memory after the last segment");
    }

    [Fact]
    public void Uni_segments_with_memory_of_the_whole_past_equal_one_pass_over_the_whole_text()
    {
        // Causal attention never looks ahead, so a memory that keeps every earlier position reproduces one full pass:
        // this shows the memory, its relative positions (with clamp_len 3) and its segment ids are wired right.
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-uni", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-uni", "config.json"));
        var graph = XLNetGraph.Load(weights, config, config.DefaultRunSettings with { MemoryLength = 32 });
        using var runner = new XLNetSegmentRunner(graph, segmentLength: 4);
        var result = runner.Run(LongIds);
        Assert.Equal(4, result.SegmentCount);

        using var whole = new EncoderSession(graph.BuildGraph(new GraphRequest(3)).ToByteArray());
        var onePass = whole.Run(OneText(LongIds), [.. Enumerable.Range(0, 4).Select(k => $"hidden_states.{k}")]);
        for (int k = 0; k <= 3; k++)
            XLNetGolden.AssertClose(onePass[$"hidden_states.{k}"].Data, result.HiddenStates[k].Data, $"hidden_states.{k}");
    }

    [Fact]
    public void Bi_segments_see_only_the_past_so_they_differ_from_one_pass()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var config = XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json"));
        var graph = XLNetGraph.Load(weights, config);
        using var runner = new XLNetSegmentRunner(graph, segmentLength: 5);
        Assert.Equal(5, runner.MemoryLength); // no mem_len in the config: the window length
        var segmented = runner.Run(LongIds).HiddenStates[3].Data;
        using var whole = new EncoderSession(graph.BuildGraph(new GraphRequest(3)).ToByteArray());
        var onePass = whole.Run(OneText(LongIds), ["hidden_states.3"])["hidden_states.3"].Data;
        Assert.True(segmented.Zip(onePass, (a, b) => Math.Abs(a - b)).Max() > 1e-2);
    }

    [Fact]
    public void Empty_text_and_non_positive_segment_length_are_input_errors()
    {
        using var weights = new SafetensorsReader(SharedData.Golden("xlnet-tiny-bi", "model.safetensors"));
        var graph = XLNetGraph.Load(weights, XLNetConfig.Load(SharedData.Golden("xlnet-tiny-bi", "config.json")));
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<KeyEmbedException>(() => new XLNetSegmentRunner(graph, 0)).Kind);
        using var runner = new XLNetSegmentRunner(graph, 4);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<KeyEmbedException>(() => runner.Run([])).Kind);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<KeyEmbedException>(() => runner.Run([5, 6], [0])).Kind);
    }
}
