using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class EmbeddingHeadTests
{
    private static readonly GoldenHiddenStates Bert = GoldenHiddenStates.Bert;

    [Fact]
    public void Normalized_mean_of_the_sum_of_the_last_two_layers_truncated_to_8_matches_plain_loops()
    {
        var plan = new EmbeddingOptions { Layers = [-2, -1], Normalize = true, Dimensions = 8 }
            .Resolve(EmbeddingDefaults.RawBert, Bert.LayerCount, Bert.Hidden);
        var vectors = new EmbeddingHead(plan).Vectors(Bert.Outputs(), Bert.AttentionMask);
        for (int b = 0; b < Bert.Batch; b++)
        {
            var expected = new double[8];
            int count = 0;
            for (int t = 0; t < Bert.Seq; t++)
            {
                if (Bert.AttentionMask[b * Bert.Seq + t] == 0) continue;
                count++;
                for (int h = 0; h < 8; h++) expected[h] += Bert.At(2, b, t, h) + Bert.At(3, b, t, h);
            }
            double norm = Math.Sqrt(expected.Sum(x => (x / count) * (x / count)));
            Assert.Equal(8, vectors[b].Length);
            for (int h = 0; h < 8; h++) Assert.Equal(expected[h] / count / norm, vectors[b][h], 5);
        }
    }

    [Fact]
    public void The_default_raw_BERT_plan_is_the_unnormalized_mean_of_the_second_to_last_layer()
    {
        var plan = EmbeddingOptions.Default.Resolve(EmbeddingDefaults.RawBert, Bert.LayerCount, Bert.Hidden);
        var vectors = new EmbeddingHead(plan).Vectors(Bert.Outputs(), Bert.AttentionMask);
        Assert.Equal(Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean), vectors);
    }

    [Fact]
    public void Token_level_plans_return_normalized_token_vectors_without_special_tokens()
    {
        var plan = new EmbeddingOptions { Layers = [-1], Pooling = PoolingMode.None, ExcludeSpecialTokens = true, Normalize = true }
            .Resolve(EmbeddingDefaults.RawBert, Bert.LayerCount, Bert.Hidden);
        var rows = new EmbeddingHead(plan).Tokens(Bert.Outputs(), Bert.AttentionMask, Bert.SpecialMask(2, 3));
        Assert.Equal([1, 2], rows[1].Positions);
        Assert.All(rows.SelectMany(r => r.Vectors), v => Assert.Equal(1.0, VectorMath.Norm(v), 5));
        Assert.Throws<ArgumentException>(() => new EmbeddingHead(plan).Tokens(Bert.Outputs(), Bert.AttentionMask));
    }

    [Fact]
    public void Sentence_transformers_defaults_on_golden_MiniLM_hidden_states_reproduce_the_reference_sentence_vector()
    {
        // bert-minilm row 1 is "A man is playing a guitar.", also line 19 of minilm-sts-test, whose vector the
        // reference computed from its own (unpadded) run: mean of the last layer over real tokens, normalized.
        var minilm = GoldenHiddenStates.MiniLm;
        var plan = EmbeddingOptions.Default.Resolve(EmbeddingDefaults.SentenceTransformersMean, minilm.LayerCount, minilm.Hidden);
        var vectors = new EmbeddingHead(plan).Vectors(minilm.Outputs(), minilm.AttentionMask);

        var texts = File.ReadAllLines(SharedData.Golden("minilm-sts-test", "texts.txt"));
        int line = Array.IndexOf(texts, "A man is playing a guitar.");
        Assert.True(line >= 0);
        var reference = NpyFile.Read(SharedData.Golden("minilm-sts-test", "vectors.npy"));
        var expected = reference.Data.AsSpan(line * 384, 384);
        Assert.True(VectorMath.Cosine(expected, vectors[1]) >= 0.9999, $"cosine {VectorMath.Cosine(expected, vectors[1])}");
        // Pooling over padding too (a plain mean of all 24 positions) would not match.
        var unmasked = new EmbeddingHead(plan).Vectors(minilm.Outputs(), Enumerable.Repeat(1L, minilm.AttentionMask.Length).ToArray());
        Assert.True(VectorMath.Cosine(expected, unmasked[1]) < 0.9999);
    }
}
