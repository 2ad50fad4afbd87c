using System.Collections.Concurrent;
using KeyEmbed.Embedding;
using KeyEmbed.Server;

namespace KeyEmbed.Tests.Server;

/// <summary>
/// A deterministic stand-in for a model: whitespace words are tokens between [CLS] and [SEP]; each token's vector at
/// each layer is drawn from a generator seeded by a hash of (layer, lower-cased token), so texts sharing words are
/// similar. Options are resolved by the library (<see cref="EmbeddingOptions.Resolve"/>) and layers, layer mode,
/// pooling, special-token exclusion, normalization and dimensions then behave as they say. Records the
/// size of every batch; <see cref="BatchDelay"/> and <see cref="Gate"/> make it slow or hold it.
/// </summary>
internal sealed class FakeBackend : IEmbeddingBackend
{
    public const int Dims = 16;

    public ModelFacts Model { get; } = new("fake-hash-16", "fake", Dims, Layers: 4, MaxTokens: 32, EmbeddingDefaults.SentenceTransformersMean);

    /// <summary>Texts per EmbedBatch call, in call order.</summary>
    public ConcurrentQueue<int> Batches { get; } = new();

    public TimeSpan BatchDelay { get; set; }

    /// <summary>When set, every model call waits until it is signalled.</summary>
    public ManualResetEventSlim? Gate { get; set; }

    /// <summary>When set, every model call throws it (a broken model or runtime).</summary>
    public Exception? Failure { get; set; }

    /// <summary>When set, a batch for which it returns an exception throws it (one bad batch among good ones).</summary>
    public Func<IReadOnlyList<string>, Exception?>? FailBatch { get; set; }

    /// <summary>The texts of every EmbedBatch call, in call order, and whether it threw.</summary>
    public ConcurrentQueue<(string[] Texts, bool Failed)> BatchTexts { get; } = new();

    /// <summary>Signalled whenever a model call starts.</summary>
    public SemaphoreSlim Started { get; } = new(0);

    public TokenizedText Tokenize(string text)
    {
        var tokens = new List<string> { "[CLS]" };
        var offsets = new List<(int, int)> { (0, 0) };
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i])) { i++; continue; }
            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i])) i++;
            tokens.Add(text[start..i].ToLowerInvariant());
            offsets.Add((start, i));
        }
        tokens.Add("[SEP]");
        offsets.Add((0, 0));
        return new TokenizedText(tokens, [.. tokens.Select(t => (int)(Hash(t) % 30_000))], offsets);
    }

    public int CountTokens(string text) => Tokenize(text).Tokens.Count;

    /// <summary>This fake's "vocabulary" is English: a word with a character beyond ASCII is unknown.</summary>
    public double UnknownShare(string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        return words.Length == 0 ? 0 : (double)words.Count(w => w.Any(c => c > 0x7F)) / words.Length;
    }

    public float[][] EmbedBatch(IReadOnlyList<string> texts, EmbeddingOptions options)
    {
        Hold();
        if (FailBatch?.Invoke(texts) is { } failure)
        {
            BatchTexts.Enqueue(([.. texts], true));
            throw failure;
        }
        BatchTexts.Enqueue(([.. texts], false));
        Batches.Enqueue(texts.Count);
        return [.. texts.Select(t => Embed(t, options))];
    }

    public TokenEmbeddings EmbedTokens(string text, EmbeddingOptions options)
    {
        Hold();
        var tokens = Truncated(Tokenize(text));
        var plan = Resolve(options with { Pooling = PoolingMode.None });
        var vectors = tokens.Tokens.Select(t => Finish(Combine([.. plan.Layers.Select(l => TokenVector(t, l))], plan.LayerMode), plan)).ToArray();
        return new TokenEmbeddings(tokens, vectors);
    }

    /// <summary>The vector the fake gives <paramref name="text"/> (what the routes must return).</summary>
    public float[] Embed(string text, EmbeddingOptions options)
    {
        var tokens = Truncated(Tokenize(text)).Tokens;
        var plan = Resolve(options);
        string[] pooled = plan.ExcludeSpecialTokens ? [.. tokens.Where(t => t is not ("[CLS]" or "[SEP]"))] : [.. tokens];
        if (pooled.Length == 0) pooled = [.. tokens];
        var perLayer = plan.Layers.Select(layer => Pool(pooled, tokens, layer, plan.Pooling)).ToArray();
        return Finish(Combine(perLayer, plan.LayerMode), plan);
    }

    private ResolvedEmbeddingOptions Resolve(EmbeddingOptions options) => options.Resolve(Model.Defaults, Model.Layers, Dims);

    public static float Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return (float)(dot / Math.Sqrt(na * nb));
    }

    private void Hold()
    {
        Started.Release();
        if (Failure is not null) throw Failure;
        Gate?.Wait(TimeSpan.FromSeconds(30));
        if (BatchDelay > TimeSpan.Zero) Thread.Sleep(BatchDelay);
    }

    private TokenizedText Truncated(TokenizedText tokens)
    {
        if (tokens.Tokens.Count <= Model.MaxTokens) return tokens;
        var n = Model.MaxTokens;
        return new TokenizedText([.. tokens.Tokens.Take(n)], [.. tokens.Ids.Take(n)], [.. tokens.Offsets.Take(n)]);
    }

    private static float[] TokenVector(string token, int layer)
    {
        var random = new Random((int)Hash($"{layer}|{token}"));
        return [.. Enumerable.Range(0, Dims).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    private static float[] Pool(string[] pooled, IReadOnlyList<string> all, int layer, PoolingMode pooling)
    {
        float[][] vectors = [.. pooled.Select(t => TokenVector(t, layer))];
        return pooling switch
        {
            PoolingMode.First => TokenVector(all[0], layer),
            PoolingMode.LastReal => TokenVector(all[^1], layer),
            PoolingMode.Max => Max(vectors),
            PoolingMode.MeanMax => [.. Mean(vectors), .. Max(vectors)],
            _ => Mean(vectors),
        };
    }

    private static float[] Mean(float[][] vectors) => [.. Enumerable.Range(0, vectors[0].Length).Select(d => vectors.Average(v => v[d]))];

    private static float[] Max(float[][] vectors) => [.. Enumerable.Range(0, vectors[0].Length).Select(d => vectors.Max(v => v[d]))];

    private static float[] Combine(float[][] layers, LayerMode mode) => mode switch
    {
        LayerMode.Concat => [.. layers.SelectMany(v => v)],
        LayerMode.Mean => Mean(layers),
        _ => [.. Enumerable.Range(0, layers[0].Length).Select(d => layers.Sum(v => v[d]))],
    };

    private static float[] Finish(float[] vector, ResolvedEmbeddingOptions plan)
    {
        vector = vector[..Math.Min(plan.Dimensions, vector.Length)];
        if (!plan.Normalize) return vector;
        var norm = (float)Math.Sqrt(vector.Sum(x => (double)x * x));
        return norm == 0 ? vector : [.. vector.Select(x => x / norm)];
    }

    private static uint Hash(string text)
    {
        var hash = 2166136261u;
        foreach (var c in text) hash = (hash ^ c) * 16777619u;
        return hash;
    }
}
