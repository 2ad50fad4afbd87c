using System.Diagnostics;
using System.Text;
using System.Text.Json;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Embedding;
using Xunit.Abstractions;

namespace KeyEmbed.Tests.Embedding;

/// <summary>The built-in model, loaded once for the facade tests (its graph takes a moment to build).</summary>
internal static class SharedModels
{
    private static readonly Lazy<KeyEmbedModel> LazyMiniLm = new(() => KeyEmbedModel.Load());
    private static readonly Lazy<KeyEmbedModel> LazyTiny = new(() => KeyEmbedModel.Load(SharedData.Golden("bert-tiny-random")));

    public static KeyEmbedModel MiniLm => LazyMiniLm.Value;

    /// <summary>The 2-layer random BERT of golden/bert-tiny-random (raw checkpoint: layer -2, mean, not normalized).</summary>
    public static KeyEmbedModel Tiny => LazyTiny.Value;
}

/// <summary>
/// The facade from raw text, end to end, against the references: the golden MiniLM hidden states pooled by hand,
/// and sentence-transformers' vectors for every sentence of the STS Benchmark test split.
/// </summary>
[Trait("Resource", "built-in model (90 MB graph)")]
public sealed class KeyEmbedModelGoldenTests(ITestOutputHelper output)
{
    private static readonly GoldenHiddenStates Golden = GoldenHiddenStates.MiniLm;

    private static string[] GoldenSentences()
    {
        using var reader = new SafetensorsReader(SharedData.Golden("bert-minilm", "io.safetensors"));
        return JsonSerializer.Deserialize<string[]>(reader.Metadata["sentences"])!;
    }

    // Hand computation over the golden tensors, independent of Embedding/: per row, the tokens where the mask is 1.
    private static IEnumerable<int> RealTokens(int row) =>
        Enumerable.Range(0, Golden.Seq).Where(t => Golden.AttentionMask[row * Golden.Seq + t] == 1);

    private static float[] TokenVector(int layer, int row, int token) =>
        [.. Enumerable.Range(0, Golden.Hidden).Select(h => Golden.At(layer, row, token, h))];

    private static float[] MaskedMean(int layer, int row, Func<int, bool>? keep = null)
    {
        var tokens = RealTokens(row).Where(t => keep?.Invoke(t) ?? true).ToArray();
        var sum = new double[Golden.Hidden];
        foreach (int t in tokens)
            for (int h = 0; h < Golden.Hidden; h++) sum[h] += Golden.At(layer, row, t, h);
        return [.. sum.Select(s => (float)(s / tokens.Length))];
    }

    private static float[] MaskedMax(int layer, int row)
    {
        var max = Enumerable.Repeat(float.NegativeInfinity, Golden.Hidden).ToArray();
        foreach (int t in RealTokens(row))
            for (int h = 0; h < Golden.Hidden; h++) max[h] = Math.Max(max[h], Golden.At(layer, row, t, h));
        return max;
    }

    private static float[] Normalized(float[] v)
    {
        double norm = Math.Sqrt(v.Sum(x => (double)x * x));
        return [.. v.Select(x => (float)(x / norm))];
    }

    private static float[] Add(float[] a, float[] b) => [.. a.Zip(b, (x, y) => x + y)];

    private static void AssertClose(float[] expected, float[] actual, double tolerance = 1e-4)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= tolerance, $"max abs difference {worst:E2} > {tolerance:E0}");
    }

    private static float[][] Embed(EmbeddingOptions options) => SharedModels.MiniLm.Embed(GoldenSentences(), options).Vectors;

    [Fact]
    public void Default_pipeline_from_raw_sentences_equals_the_normalized_masked_mean_of_the_last_golden_layer()
    {
        var sentences = GoldenSentences();
        Assert.Equal(Golden.Batch, sentences.Length);
        var result = SharedModels.MiniLm.Embed(sentences);
        for (int row = 0; row < sentences.Length; row++)
            AssertClose(Normalized(MaskedMean(6, row)), result.Vectors[row]);
        // The tokens the model saw are the golden rows' real tokens.
        Assert.Equal(Enumerable.Range(0, Golden.Batch).Select(r => RealTokens(r).Count()), result.Tokens);
        Assert.All(result.Windows, w => Assert.Equal(1, w));
    }

    [Fact]
    public void Layer_minus_two_is_the_masked_mean_of_hidden_state_five()
    {
        var vectors = Embed(new EmbeddingOptions { Layers = [-2] });
        for (int row = 0; row < Golden.Batch; row++) AssertClose(Normalized(MaskedMean(5, row)), vectors[row]);
        // ...and not that of the last layer, so the option really reaches the graph.
        Assert.True(VectorMath.Cosine(Normalized(MaskedMean(6, 0)), vectors[0]) < 0.999);
    }

    [Fact]
    public void Index_rule_maps_zero_and_minus_L_plus_one_to_the_embedding_output()
    {
        var zero = Embed(new EmbeddingOptions { Layers = [0], Normalize = false });
        var minusSeven = Embed(new EmbeddingOptions { Layers = [-7], Normalize = false });
        var two = Embed(new EmbeddingOptions { Layers = [2], Normalize = false });
        for (int row = 0; row < Golden.Batch; row++)
        {
            AssertClose(MaskedMean(0, row), zero[row]);
            AssertClose(MaskedMean(0, row), minusSeven[row]);
            AssertClose(MaskedMean(2, row), two[row]);
        }
    }

    [Fact]
    public void Several_layers_sum_average_or_concatenate_before_pooling()
    {
        var sum = Embed(new EmbeddingOptions { Layers = [-2, -1], Normalize = false });
        var mean = Embed(new EmbeddingOptions { Layers = [-2, -1], LayerMode = LayerMode.Mean, Normalize = false });
        var concat = Embed(new EmbeddingOptions { Layers = [-1, -2], LayerMode = LayerMode.Concat, Normalize = false });
        for (int row = 0; row < Golden.Batch; row++)
        {
            var expectedSum = Add(MaskedMean(5, row), MaskedMean(6, row));
            AssertClose(expectedSum, sum[row], 2e-4);
            AssertClose([.. expectedSum.Select(x => x / 2)], mean[row]);
            AssertClose([.. MaskedMean(6, row), .. MaskedMean(5, row)], concat[row]);
        }
    }

    [Fact]
    public void Max_first_last_and_mean_max_pooling_pick_what_the_golden_tokens_say()
    {
        var max = Embed(new EmbeddingOptions { Pooling = PoolingMode.Max, Normalize = false });
        var cls = Embed(new EmbeddingOptions { Pooling = PoolingMode.Cls, Normalize = false });
        var last = Embed(new EmbeddingOptions { Pooling = PoolingMode.LastReal, Normalize = false });
        var meanMax = Embed(new EmbeddingOptions { Pooling = PoolingMode.MeanMax, Layers = [3], Normalize = false });
        for (int row = 0; row < Golden.Batch; row++)
        {
            AssertClose(MaskedMax(6, row), max[row]);
            AssertClose(TokenVector(6, row, 0), cls[row]);
            AssertClose(TokenVector(6, row, RealTokens(row).Last()), last[row]);
            AssertClose([.. MaskedMean(3, row), .. MaskedMax(3, row)], meanMax[row]);
        }
    }

    [Fact]
    public void Excluding_special_tokens_and_truncating_dimensions_follow_the_hand_computation()
    {
        var vectors = Embed(new EmbeddingOptions { ExcludeSpecialTokens = true, Dimensions = 64 });
        for (int row = 0; row < Golden.Batch; row++)
        {
            int first = RealTokens(row).First(), last = RealTokens(row).Last();
            var mean = MaskedMean(6, row, t => t != first && t != last);
            AssertClose(Normalized(mean[..64]), vectors[row]);
        }
    }

    [Fact]
    public void Token_level_output_gives_the_golden_token_vectors_with_offsets()
    {
        var sentences = GoldenSentences();
        var tokens = SharedModels.MiniLm.EmbedTokens(sentences[1], new EmbeddingOptions { Normalize = false });
        Assert.Equal(RealTokens(1).Count(), tokens.Tokens.Count);
        for (int t = 0; t < tokens.Tokens.Count; t++) AssertClose(TokenVector(6, 1, t), tokens.Tokens[t].Vector);
        var guitar = tokens.Tokens.Single(t => t.Token == "guitar");
        Assert.Equal("guitar", sentences[1].Substring(guitar.Start, guitar.Length));
    }

    [Fact]
    [Trait("Category", "Slow")]
    public void Every_sts_test_sentence_from_raw_text_matches_sentence_transformers_by_cosine()
    {
        string folder = SharedData.Golden("minilm-sts-test");
        string[] texts = File.ReadAllLines(Path.Combine(folder, "texts.txt"), Encoding.UTF8);
        var reference = NpyFile.Read(Path.Combine(folder, "vectors.npy"));
        int width = (int)reference.Shape[1];
        Assert.Equal(2551, texts.Length);
        Assert.Equal(texts.Length, (int)reference.Shape[0]);

        var model = SharedModels.MiniLm;
        model.Embed(["warm-up"]);
        var clock = Stopwatch.StartNew();
        var vectors = model.Embed(texts).Vectors;
        clock.Stop();

        double minimum = double.MaxValue;
        int worstRow = -1;
        for (int i = 0; i < texts.Length; i++)
        {
            double cosine = VectorMath.Cosine(reference.Data.AsSpan(i * width, width), vectors[i]);
            if (cosine < minimum) (minimum, worstRow) = (cosine, i);
        }
        output.WriteLine($"{texts.Length} sentences in {clock.Elapsed.TotalSeconds:F1} s; minimum cosine {minimum:F7} (line {worstRow + 1})");
        Assert.True(minimum >= 0.9999, $"line {worstRow + 1} ({texts[worstRow]}): cosine {minimum}");
    }

    [Fact]
    public void Duplicates_score_one_and_get_identical_vectors()
    {
        var texts = new[] { "machine learning", "banana bread", "machine learning" };
        var result = SharedModels.MiniLm.Embed(texts);
        Assert.Equal(result.Vectors[0], result.Vectors[2]);
        var similarity = SharedModels.MiniLm.Similarity(texts);
        Assert.Equal(1f, similarity.Matrix[0][2]);
        Assert.Equal(1f, similarity.Matrix[2][0]);
        Assert.True(similarity.Matrix[0][1] < 0.5f);
    }

    [Fact]
    public void An_empty_list_gives_nothing_and_an_empty_string_is_an_ordinary_text()
    {
        var model = SharedModels.MiniLm;
        var none = model.Embed([]);
        Assert.Empty(none.Vectors);
        Assert.Equal(0, model.Similarity([]).Count);

        var result = model.Embed(["deep learning", "", "banana bread"]);
        Assert.Equal(3, result.Vectors.Length);
        // "" is [CLS] [SEP]: two tokens, a unit vector like any other.
        Assert.Equal(2, result.Tokens[1]);
        Assert.Equal(1.0, VectorMath.Norm(result.Vectors[1]), 4);
        AssertClose(model.Embed(["deep learning"]).Vectors[0], result.Vectors[0], 1e-5);
        // With special tokens excluded nothing is left to pool: a zero vector, cosine 0 with everything.
        var excluded = model.Embed(["", "deep learning"], new EmbeddingOptions { ExcludeSpecialTokens = true });
        Assert.All(excluded.Vectors[0], x => Assert.Equal(0f, x));
        Assert.Equal(0f, KeyEmbed.Similarity.SimilarityMatrix.Compute(excluded.Vectors).Matrix[0][1]);
    }
}
