using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class EmbeddingPipelineGraphPoolingTests
{
    [Fact]
    public void Pipeline_pooling_in_the_graph_gives_the_vectors_of_pooling_in_CSharp()
    {
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0 });
        string[] texts = ["a", "The quick brown fox jumps over the lazy dog.", "keyword embeddings", "naïve bayes"];
        var mean = model.Resolve(new EmbeddingOptions { Layers = [-1, 3], LayerMode = LayerMode.Mean });
        var max = model.Resolve(new EmbeddingOptions { Pooling = PoolingMode.Max });
        var pipeline = model.Pipeline;
        var inGraph = pipeline.Embed(texts, mean);                // mean only: pooled inside the graph
        var inCSharp = pipeline.Embed(texts, [mean, max])[0];     // a max plan too: hidden states come out, pooled in C#
        for (int i = 0; i < texts.Length; i++)
            for (int d = 0; d < inGraph[i].Vector.Length; d++)
                Assert.True(Math.Abs(inGraph[i].Vector[d] - inCSharp[i].Vector[d]) <= 1e-5f, $"text {i} dim {d}");
    }

    [Fact]
    public void Session_settings_change_speed_not_answers()
    {
        string[] texts = ["machine learning", "A man is playing a guitar."];
        using var reference = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0 });
        using var tuned = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions
            { UseGraphCache = false, CacheBytes = 0, AllowSpinning = false, Threads = 1, TokenBudget = 16, MaxBatchSize = 1 });
        var expected = reference.Embed(texts).Vectors;
        var actual = tuned.Embed(texts).Vectors;
        for (int i = 0; i < texts.Length; i++)
            Assert.True(KeyEmbed.Evaluation.StsBenchmark.Cosine(expected[i], actual[i]) >= 0.99999, $"text {i}");
    }

    [Fact]
    public void A_score_budget_changes_the_batches_of_long_texts_not_their_answers()
    {
        // Long texts of different lengths (some padded in a shared batch) and short ones, in one call.
        var texts = Enumerable.Range(0, 12).Select(i => i % 3 == 0 ? $"short text {i}"
            : string.Join(' ', Enumerable.Range(0, 60 + 7 * i).Select(k => $"word{(k * 31 + i) % 97}"))).ToArray();
        using var reference = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0, Threads = 2 });
        // Room for one long row a batch (≥ 120 tokens each).
        using var budgeted = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0, Threads = 2, ScoreBudget = 100 * 100 });
        var expected = reference.Embed(texts).Vectors;
        var actual = budgeted.Embed(texts).Vectors;
        for (int i = 0; i < texts.Length; i++)
            for (int d = 0; d < expected[i].Length; d++)
                Assert.True(Math.Abs(expected[i][d] - actual[i][d]) <= 1e-5f, $"text {i} dim {d}: {expected[i][d]} vs {actual[i][d]}");
    }

    [Fact]
    public void Batch_workers_give_the_answers_of_one_batch_after_another_in_the_callers_order()
    {
        // Many small batches (budget 64 tokens) so both workers take several, of different lengths.
        var texts = Enumerable.Range(0, 60).Select(i => string.Join(' ', Enumerable.Repeat($"word{i}", 1 + i % 9))).ToArray();
        var options = new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0, Threads = 2, TokenBudget = 64, MaxBatchSize = 4 };
        using var serial = KeyEmbedModel.Load("minilm", options with { BatchWorkers = 1 });
        using var parallel = KeyEmbedModel.Load("minilm", options with { BatchWorkers = 2 });
        var expected = serial.Embed(texts).Vectors;
        var progress = new List<int>();
        var plan = parallel.Resolve(new EmbeddingOptions());
        var actual = parallel.Pipeline.Embed(texts, plan, done => progress.Add(done));
        for (int i = 0; i < texts.Length; i++)
            Assert.True(KeyEmbed.Evaluation.StsBenchmark.Cosine(expected[i], actual[i].Vector) >= 0.99999, $"text {i}");
        Assert.Equal(texts.Length, progress[^1]);
        Assert.Equal(progress.Order(), progress);
    }

    [Fact]
    public void Negative_batch_workers_are_refused_with_the_reason()
    {
        var error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { BatchWorkers = -1 }));
        Assert.Contains("batch workers", error.Message);
    }
}
