using System.Collections.Concurrent;
using KeyEmbed.Server;

namespace KeyEmbed.Tests.Server;

/// <summary>
/// A deterministic stand-in for a model: whitespace words are tokens between [CLS] and [SEP]; each token's vector at
/// each layer is drawn from a generator seeded by a hash of (layer, lower-cased token), so texts sharing words are
/// similar. Layers, layer mode, pooling, normalization and dimensions behave as the real options say. Records the
/// size of every batch; <see cref="BatchDelay"/> and <see cref="Gate"/> make it slow or hold it.
/// </summary>
internal sealed class FakeBackend : IEmbeddingBackend
{
    public const int Dims = 16;

    public ModelFacts Model { get; } = new("fake-hash-16", "fake", Dims, Layers: 4, MaxTokens: 32);

    /// <summary>Texts per EmbedBatch call, in call order.</summary>
    public ConcurrentQueue<int> Batches { get; } = new();

    public TimeSpan BatchDelay { get; set; }

    /// <summary>When set, every model call waits until it is signalled.</summary>
    public ManualResetEventSlim? Gate { get; set; }

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

    public float[][] EmbedBatch(IReadOnlyList<string> texts, EmbedRequestOptions options)
    {
        Hold();
        Batches.Enqueue(texts.Count);
        return [.. texts.Select(t => Embed(t, options))];
    }

    public TokenEmbeddings EmbedTokens(string text, EmbedRequestOptions options)
    {
        Hold();
        var tokens = Truncated(Tokenize(text), options);
        var layers = ResolveLayers(options);
        var vectors = tokens.Tokens.Select(t => Finish(Combine([.. layers.Select(l => TokenVector(t, l))], options.LayerMode), options)).ToArray();
        return new TokenEmbeddings(tokens, vectors);
    }

    public IReadOnlyList<KeywordScore> Keywords(string document, KeywordRequestOptions options)
    {
        Hold();
        var words = document.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var candidates = new List<string>();
        for (var n = options.MinWords; n <= options.MaxWords; n++)
            for (var i = 0; i + n <= words.Length; i++)
                candidates.Add(string.Join(' ', words[i..(i + n)]));
        var documentVector = Embed(document, options.Embedding);
        return [.. candidates.Distinct(StringComparer.OrdinalIgnoreCase)
            .Select(c => new KeywordScore(c, Cosine(Embed(c, options.Embedding), documentVector)))
            .OrderByDescending(k => k.Score).Take(options.TopK)];
    }

    /// <summary>The vector the fake gives <paramref name="text"/> (what the routes must return).</summary>
    public float[] Embed(string text, EmbedRequestOptions options)
    {
        var tokens = Truncated(Tokenize(text), options).Tokens;
        var layers = ResolveLayers(options);
        var perLayer = layers.Select(layer => Pool([.. tokens.Select(t => TokenVector(t, layer))], options.Pooling ?? EmbedPooling.Mean)).ToArray();
        return Finish(Combine(perLayer, options.LayerMode), options);
    }

    public static float Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
        return (float)(dot / Math.Sqrt(na * nb));
    }

    private void Hold()
    {
        Started.Release();
        Gate?.Wait(TimeSpan.FromSeconds(30));
        if (BatchDelay > TimeSpan.Zero) Thread.Sleep(BatchDelay);
    }

    private TokenizedText Truncated(TokenizedText tokens, EmbedRequestOptions options)
    {
        if (tokens.Tokens.Count <= Model.MaxTokens) return tokens;
        if (!options.Truncate) throw new KeyEmbedException(ErrorKind.InvalidInput, $"The text has {tokens.Tokens.Count} tokens; the limit is {Model.MaxTokens}.");
        var n = Model.MaxTokens;
        return new TokenizedText([.. tokens.Tokens.Take(n)], [.. tokens.Ids.Take(n)], [.. tokens.Offsets.Take(n)]);
    }

    private int[] ResolveLayers(EmbedRequestOptions options) =>
        [.. (options.Layers ?? [-1]).Select(l => l < 0 ? Model.Layers + 1 + l : l)];

    private static float[] TokenVector(string token, int layer)
    {
        var random = new Random((int)Hash($"{layer}|{token}"));
        return [.. Enumerable.Range(0, Dims).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    private static float[] Pool(float[][] tokens, EmbedPooling pooling) => pooling switch
    {
        EmbedPooling.Cls => tokens[0],
        EmbedPooling.Last => tokens[^1],
        EmbedPooling.Max => [.. Enumerable.Range(0, Dims).Select(d => tokens.Max(t => t[d]))],
        EmbedPooling.MeanMax => [.. Pool(tokens, EmbedPooling.Mean), .. Pool(tokens, EmbedPooling.Max)],
        _ => [.. Enumerable.Range(0, Dims).Select(d => tokens.Average(t => t[d]))],
    };

    private static float[] Combine(float[][] layers, EmbedLayerMode mode) => mode switch
    {
        EmbedLayerMode.Concat => [.. layers.SelectMany(v => v)],
        EmbedLayerMode.Sum => [.. Enumerable.Range(0, layers[0].Length).Select(d => layers.Sum(v => v[d]))],
        _ => [.. Enumerable.Range(0, layers[0].Length).Select(d => layers.Average(v => v[d]))],
    };

    private static float[] Finish(float[] vector, EmbedRequestOptions options)
    {
        if (options.Dimensions is { } dims)
        {
            if (dims > vector.Length) throw new KeyEmbedException(ErrorKind.InvalidInput, $"dimensions is {dims}; the vectors have {vector.Length}.");
            vector = vector[..dims];
        }
        if (!options.Normalize) return vector;
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
