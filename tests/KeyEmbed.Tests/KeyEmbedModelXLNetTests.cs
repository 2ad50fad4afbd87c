using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Architectures.XLNet;
using KeyEmbed.Embedding;
using KeyEmbed.Runtime;
using KeyEmbed.Tests.Fixtures;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests;

/// <summary>
/// XLNet from text through the facade: the real 32000-piece sentencepiece model over a tiny random XLNet
/// (<see cref="TinyXLNetFolder"/>). Expected vectors are computed by hand from the graph's hidden states.
/// </summary>
public sealed class KeyEmbedModelXLNetTests
{
    private static readonly string[] Texts =
    [
        "machine learning",
        "The quick brown fox jumps over the lazy dog.",
        "a",
        "XLNet pads on the left, so shorter texts in a batch start with padding tokens.",
    ];

    // About 60 pieces: several segments at a 16-token window.
    private const string LongText =
        "Transformer-XL carries a memory from one segment to the next, so a long document is read piece by piece " +
        "while every layer still attends to what came before; XLNet inherits this recurrence and its relative positions.";

    private static KeyEmbedModel Load(TinyXLNetFolder folder, int? window = null) =>
        KeyEmbedModel.Load(folder.Path, new KeyEmbedModelOptions { UseGraphCache = false, MaxSequenceLength = window, Threads = 1 });

    [Fact]
    public void Raw_xlnet_defaults_are_the_second_to_last_layer_mean_pooled_not_normalized_with_cls_at_the_end()
    {
        using var folder = new TinyXLNetFolder();
        using var model = Load(folder);
        Assert.Equal("xlnet", model.Info.Architecture);
        Assert.Equal(TinyXLNetFolder.Layers, model.Info.Layers);
        Assert.Equal(512, model.Info.MaxTokens);
        Assert.Equal(EmbeddingDefaults.RawXLNet, model.Defaults);
        var plan = model.Resolve();
        Assert.Equal([TinyXLNetFolder.Layers - 1], plan.Layers);
        Assert.Equal(PoolingMode.Mean, plan.Pooling);
        Assert.False(plan.Normalize);
        Assert.Equal(PoolingMode.LastReal, model.Resolve(new EmbeddingOptions { Pooling = PoolingMode.Cls }).Pooling);
        Assert.Equal(TextEncoder.Load(folder.Path).Encode(Texts[1]).Ids, model.Tokenizer.Encode(Texts[1]).Ids);
    }

    [Fact]
    public void Left_padded_batch_pools_over_real_tokens_only_and_cls_is_the_last_token()
    {
        using var folder = new TinyXLNetFolder();
        using var model = Load(folder);
        var mean = model.Embed(Texts);
        var cls = model.Embed(Texts, new EmbeddingOptions { Pooling = PoolingMode.Cls });
        var first = model.Embed(Texts, new EmbeddingOptions { Pooling = PoolingMode.First });
        var max = model.Embed(Texts, new EmbeddingOptions { Pooling = PoolingMode.Max, Layers = [0, -1], LayerMode = LayerMode.Concat });
        using var session = FullSession(model);
        for (int t = 0; t < Texts.Length; t++)
        {
            var encoded = model.Tokenizer.Encode(Texts[t]);
            Assert.Equal("<cls>", encoded.Tokens[^1]);
            Assert.Equal(encoded.Length, mean.Tokens[t]);
            Assert.Equal(1, mean.Windows[t]);
            var states = RunUnpadded(session, encoded);
            var layer2 = Rows(states["hidden_states.2"]);
            AssertClose(Mean(layer2), mean.Vectors[t], $"mean of '{Texts[t]}'");
            AssertClose(layer2[^1], cls.Vectors[t], $"cls of '{Texts[t]}'");
            AssertClose(layer2[0], first.Vectors[t], $"first of '{Texts[t]}'");
            var concat = Rows(states["hidden_states.0"]).Zip(Rows(states["hidden_states.3"]), (a, b) => a.Concat(b).ToArray()).ToArray();
            AssertClose(Max(concat), max.Vectors[t], $"max of layers 0 and 3 of '{Texts[t]}'");
        }
    }

    [Fact]
    public void A_batch_of_different_lengths_gives_the_vectors_of_one_by_one()
    {
        using var folder = new TinyXLNetFolder();
        using var model = Load(folder);
        var options = new EmbeddingOptions { Layers = [-1, -3], LayerMode = LayerMode.Mean, Pooling = PoolingMode.MeanMax, Normalize = true };
        var together = model.Embed(Texts, options);
        for (int t = 0; t < Texts.Length; t++)
            AssertClose(model.Embed([Texts[t]], options).Vectors[0], together.Vectors[t], $"'{Texts[t]}' alone vs in the batch");
    }

    [Theory]
    [InlineData(null)] // no mem_len: the memory keeps one window
    [InlineData(5)]    // mem_len shorter than the window
    public void Long_text_runs_as_segments_with_memory_and_pools_over_all_its_tokens(int? memoryLength)
    {
        const int window = 16;
        using var folder = new TinyXLNetFolder(memoryLength);
        using var model = Load(folder, window);
        var whole = model.Tokenizer.Encode(LongText, maxLength: int.MaxValue);
        Assert.True(whole.Length > 3 * window, $"the long text has only {whole.Length} pieces");
        int segments = (whole.Length + window - 1) / window;

        // By hand: the segments in order, each with the new_mems the previous one left as its mems.
        var graph = (XLNetGraph)model.Loaded.Architecture;
        var settings = graph.Settings with { MemoryLength = memoryLength ?? window };
        using var firstSession = new EncoderSession(graph.WithSettings(settings).BuildGraph(new GraphRequest(3)).ToByteArray());
        using var laterSession = new EncoderSession(graph.WithSettings(settings with { MemoryInputs = true }).BuildGraph(new GraphRequest(3)).ToByteArray());
        var layer2 = new List<float[]>();
        Dictionary<string, DenseTensor<float>>? memories = null;
        for (int start = 0; start < whole.Length; start += window)
        {
            int length = Math.Min(window, whole.Length - start);
            var ids = whole.Ids.Skip(start).Take(length).Select(i => (long)i).ToArray();
            var types = whole.TypeIds.Skip(start).Take(length).Select(i => (long)i).ToArray();
            var session = memories is null ? firstSession : laterSession;
            var outputs = session.Run(Inputs(ids, types), session.OutputNames, memories);
            layer2.AddRange(Rows(outputs["hidden_states.2"]));
            memories = Enumerable.Range(0, 3).ToDictionary(k => $"mems.{k}", k => outputs[$"new_mems.{k}"]);
            Assert.Equal(Math.Min(memoryLength ?? window, start + length), memories["mems.0"].Shape[0]);
        }
        Assert.Equal(whole.Length, layer2.Count);

        var batch = model.Embed([Texts[0], LongText, Texts[1]]);
        var cls = model.Embed([LongText], new EmbeddingOptions { Pooling = PoolingMode.Cls });
        Assert.Equal([1, segments, 1], batch.Windows);
        Assert.Equal(1, batch.WindowedCount);
        Assert.Equal(whole.Length, batch.Tokens[1]);
        Assert.Equal(whole.Length, model.CountTokens(LongText));
        AssertClose(Mean(layer2), batch.Vectors[1], "mean over every segment's tokens");
        Assert.Equal("<cls>", whole.Tokens[^1]);
        AssertClose(layer2[^1], cls.Vectors[0], "cls = the last token of the last segment");
        // The short texts beside it are untouched by it.
        AssertClose(model.Embed([Texts[0]]).Vectors[0], batch.Vectors[0], "short text beside the long one");

        // The memory matters: segments run without it give other vectors.
        var isolated = new List<float[]>();
        for (int start = 0; start < whole.Length; start += window)
        {
            int length = Math.Min(window, whole.Length - start);
            var outputs = firstSession.Run(Inputs(
                [.. whole.Ids.Skip(start).Take(length).Select(i => (long)i)],
                [.. whole.TypeIds.Skip(start).Take(length).Select(i => (long)i)]), ["hidden_states.2"]);
            isolated.AddRange(Rows(outputs["hidden_states.2"]));
        }
        Assert.True(MaxDifference(Mean(isolated), batch.Vectors[1]) > 1e-3, "segments without memory should differ");
    }

    [Fact]
    public void Long_text_without_special_tokens_pools_only_its_pieces()
    {
        using var folder = new TinyXLNetFolder();
        using var model = Load(folder, 16);
        var whole = model.Tokenizer.Encode(LongText, maxLength: int.MaxValue);
        using var runner = new XLNetSegmentRunner((XLNetGraph)model.Loaded.Architecture, 16);
        var states = runner.Run([.. whole.Ids.Select(i => (long)i)], [.. whole.TypeIds.Select(i => (long)i)]);
        var rows = Rows(states.HiddenStates[2]).Where((_, i) => !whole.SpecialTokenMask[i]).ToArray();
        Assert.Equal(whole.Length - 2, rows.Length);
        var result = model.Embed([LongText], new EmbeddingOptions { ExcludeSpecialTokens = true });
        AssertClose(Mean(rows), result.Vectors[0], "mean over pieces only");
    }

    private static EncoderSession FullSession(KeyEmbedModel model) =>
        new(model.Loaded.Architecture.BuildGraph(new GraphRequest(TinyXLNetFolder.Layers)).ToByteArray());

    private static Dictionary<string, DenseTensor<float>> RunUnpadded(EncoderSession session, EncodedText encoded) =>
        session.Run(Inputs([.. encoded.Ids.Select(i => (long)i)], [.. encoded.TypeIds.Select(i => (long)i)]), session.OutputNames);

    private static Dictionary<string, DenseTensor<long>> Inputs(long[] ids, long[] types)
    {
        long[] shape = [1, ids.Length];
        return new()
        {
            ["input_ids"] = new(ids, shape),
            ["attention_mask"] = new([.. Enumerable.Repeat(1L, ids.Length)], shape),
            ["token_type_ids"] = new(types, shape),
        };
    }

    // [1, T, H] → T rows of H.
    private static float[][] Rows(DenseTensor<float> tensor)
    {
        int width = (int)tensor.Shape[^1];
        return [.. tensor.Data.Chunk(width)];
    }

    private static float[] Mean(IReadOnlyList<float[]> rows) =>
        [.. Enumerable.Range(0, rows[0].Length).Select(d => (float)rows.Average(r => (double)r[d]))];

    private static float[] Max(IReadOnlyList<float[]> rows) =>
        [.. Enumerable.Range(0, rows[0].Length).Select(d => rows.Max(r => r[d]))];

    private static double MaxDifference(float[] a, float[] b) => a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double difference = MaxDifference(expected, actual);
        Assert.True(difference <= 1e-4, $"{what}: largest difference {difference:G3}");
    }
}
