using Google.Protobuf;
using KeyEmbed.Models;
using KeyEmbed.Onnx;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Runtime;

public sealed class OptimizedSessionsTests
{
    // Linear → GELU → Linear: ORT's optimizer fuses the bias and GELU, so its optimized form differs from the graph.
    private static byte[] Graph()
    {
        var b = new GraphBuilder("t");
        var random = new Random(3);
        float[] Weights(int n) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5))];
        string x = b.Input("x", ElementType.Float, "batch", 16L);
        string h = b.GeluErf(b.Linear(x, b.Initializer("w1", Weights(16 * 64), 16, 64), b.Initializer("b1", Weights(64), 64)));
        b.Output("y", b.Linear(h, b.Initializer("w2", Weights(64 * 8), 64, 8), b.Initializer("b2", Weights(8), 8)), ElementType.Float, "batch", 8L);
        return b.Build().ToByteArray();
    }

    private static float[] Run(EncoderSession session)
    {
        var x = Enumerable.Range(0, 3 * 16).Select(i => MathF.Sin(i)).ToArray();
        return session.Run(new Dictionary<string, DenseTensor<long>>(), ["y"],
            new Dictionary<string, DenseTensor<float>> { ["x"] = new(x, [3, 16]) })["y"].Data;
    }

    [Fact]
    public void Second_start_opens_the_cached_optimized_graph_without_the_onnx_graph_and_answers_the_same()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        int graphReads = 0;
        byte[] Onnx() { graphReads++; return Graph(); }
        float[] first, second;
        using (var session = OptimizedSessions.Open(cache, "graph-key", "test graph", Onnx, new SessionSettings { Threads = 1 }))
            first = Run(session);
        Assert.Equal(1, graphReads);
        Assert.True(File.Exists(dir.File(OptimizedSessions.Key("graph-key") + ".onnx")));
        using (var session = OptimizedSessions.Open(cache, "graph-key", "test graph", Onnx, new SessionSettings { Threads = 1 }))
            second = Run(session);
        Assert.Equal(1, graphReads); // the ONNX graph was not needed again
        Assert.Equal(first, second);
        using var plain = new EncoderSession(Graph(), new SessionSettings { Threads = 1, Optimize = false });
        var reference = Run(plain);
        for (int i = 0; i < reference.Length; i++) Assert.Equal(reference[i], second[i], 5);
    }

    [Fact]
    public void Optimized_entry_onnx_runtime_cannot_load_falls_back_to_the_graph()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        // An intact entry (its checksum holds) whose bytes are not an ORT model.
        cache.GetOrBuild(OptimizedSessions.Key("k"), () => [.. Enumerable.Range(0, 4096).Select(i => (byte)i)], out _);
        int graphReads = 0;
        using var session = OptimizedSessions.Open(cache, "k", "test graph", () => { graphReads++; return Graph(); }, new SessionSettings { Threads = 1 });
        Assert.Equal(1, graphReads);
        using var plain = new EncoderSession(Graph(), new SessionSettings { Threads = 1 });
        Assert.Equal(Run(plain), Run(session));
    }

    [Fact]
    public void Unoptimized_sessions_keep_nothing()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        using var session = OptimizedSessions.Open(cache, "k", "test graph", Graph, new SessionSettings { Threads = 1, Optimize = false });
        Assert.Equal(3, Run(session).Length / 8);
        Assert.False(Directory.Exists(dir.Path) && Directory.EnumerateFiles(dir.Path, "*.onnx").Any());
    }

    [Fact]
    public void Built_in_model_from_a_warm_cache_gives_the_cold_start_hidden_states()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        using var model = LoadedModel.Open(BuiltInModels.Default);
        var request = new KeyEmbed.Architectures.GraphRequest(2, [2]);
        var inputs = new Dictionary<string, DenseTensor<long>>
        {
            ["input_ids"] = new([101, 6207, 2417, 102], [1, 4]),
            ["attention_mask"] = new([1, 1, 1, 1], [1, 4]),
            ["token_type_ids"] = new([0, 0, 0, 0], [1, 4]),
        };
        float[] Run(EncoderSession s) => s.Run(inputs, ["hidden_states.2"])["hidden_states.2"].Data;
        float[] cold, warm;
        using (var session = model.CreateSession(request, new SessionSettings { Threads = 1 }, cache)) cold = Run(session);
        Assert.Equal(2, Directory.EnumerateFiles(dir.Path, "*.onnx").Count()); // the graph and its optimized form
        using (var session = model.CreateSession(request, new SessionSettings { Threads = 1 }, cache)) warm = Run(session);
        Assert.Equal(cold, warm);
        using var uncached = model.CreateSession(request, new SessionSettings { Threads = 1 });
        var reference = Run(uncached);
        for (int i = 0; i < reference.Length; i++) Assert.Equal(reference[i], warm[i], 5);
    }
}
