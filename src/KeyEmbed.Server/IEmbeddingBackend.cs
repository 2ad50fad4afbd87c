namespace KeyEmbed.Server;

/// <summary>
/// What the HTTP service needs from a loaded model. The service never touches ONNX Runtime: it tokenizes to count
/// and to check limits, and hands batches of texts to <see cref="EmbedBatch"/> from a single worker thread.
/// Implementations may assume they are called by one thread at a time for the embedding methods.
/// Failures the user can act on are <see cref="KeyEmbedException"/>s.
/// </summary>
public interface IEmbeddingBackend
{
    /// <summary>Facts about the loaded model, shown by <c>GET /info</c> and used for defaults and limits.</summary>
    ModelFacts Model { get; }

    /// <summary>Splits a text as the model's tokenizer does (special tokens included).</summary>
    TokenizedText Tokenize(string text);

    /// <summary>How many tokens the model would see for <paramref name="text"/> (special tokens included, before truncation).</summary>
    int CountTokens(string text);

    /// <summary>One pooled vector per text, in the order given.</summary>
    float[][] EmbedBatch(IReadOnlyList<string> texts, EmbedRequestOptions options);

    /// <summary>One vector per token of <paramref name="text"/>, with the tokens and their character offsets.</summary>
    TokenEmbeddings EmbedTokens(string text, EmbedRequestOptions options);

    /// <summary>The keywords of <paramref name="document"/> ranked by similarity to it, best first.</summary>
    IReadOnlyList<KeywordScore> Keywords(string document, KeywordRequestOptions options);
}

/// <summary>Facts about a loaded model.</summary>
/// <param name="Name">Model name or path as the user gave it (the <c>model</c> field of OpenAI responses).</param>
/// <param name="Architecture">Architecture name, e.g. <c>bert</c> or <c>xlnet</c>.</param>
/// <param name="Dimensions">Size of one pooled vector from one layer.</param>
/// <param name="Layers">Number of transformer layers (hidden state 0 is the embedding output).</param>
/// <param name="MaxTokens">Longest input in tokens; longer inputs are truncated or refused.</param>
public sealed record ModelFacts(string Name, string Architecture, int Dimensions, int Layers, int MaxTokens);

/// <summary>A text split into the model's tokens.</summary>
/// <param name="Tokens">Token strings as the vocabulary spells them.</param>
/// <param name="Ids">Vocabulary ids, one per token.</param>
/// <param name="Offsets">Character range <c>[start, end)</c> of each token in the text; special tokens have <c>(0, 0)</c>.</param>
public sealed record TokenizedText(IReadOnlyList<string> Tokens, IReadOnlyList<int> Ids, IReadOnlyList<(int Start, int End)> Offsets);

/// <summary>Token-level vectors of one text.</summary>
/// <param name="Tokens">The tokens, with ids and offsets.</param>
/// <param name="Vectors">One vector per token, in token order.</param>
public sealed record TokenEmbeddings(TokenizedText Tokens, float[][] Vectors);

/// <summary>A candidate keyword and its similarity to the document.</summary>
/// <param name="Keyword">The keyword as it appears in the document.</param>
/// <param name="Score">Cosine similarity to the document (higher is closer).</param>
public sealed record KeywordScore(string Keyword, float Score);

/// <summary>How hidden states of several layers are combined.</summary>
public enum EmbedLayerMode
{
    /// <summary>Element-wise sum.</summary>
    Sum,
    /// <summary>Element-wise mean.</summary>
    Mean,
    /// <summary>Concatenation in the order given (the vector grows by one layer's size per layer).</summary>
    Concat,
}

/// <summary>How token vectors become one vector per text.</summary>
public enum EmbedPooling
{
    /// <summary>Mean over the real tokens.</summary>
    Mean,
    /// <summary>Element-wise maximum over the real tokens.</summary>
    Max,
    /// <summary>Mean and max concatenated.</summary>
    MeanMax,
    /// <summary>The first token (BERT's <c>[CLS]</c>).</summary>
    Cls,
    /// <summary>The last real token (XLNet's summary token).</summary>
    Last,
}

/// <summary>
/// Options of one embedding request. Requests share a model batch only when their options are equal
/// (<see cref="Equals(EmbedRequestOptions?)"/> compares layer lists by value).
/// </summary>
public sealed record EmbedRequestOptions
{
    /// <summary>Layers to read, Python-style (0 = embedding output, -1 = last layer); null means the model's default.</summary>
    public IReadOnlyList<int>? Layers { get; init; }

    /// <summary>How several layers are combined.</summary>
    public EmbedLayerMode LayerMode { get; init; } = EmbedLayerMode.Mean;

    /// <summary>How token vectors are pooled; null means the model's default.</summary>
    public EmbedPooling? Pooling { get; init; }

    /// <summary>Scale each vector to unit length.</summary>
    public bool Normalize { get; init; } = true;

    /// <summary>Keep only the first N dimensions (Matryoshka-style), renormalizing when <see cref="Normalize"/> is set; null keeps all.</summary>
    public int? Dimensions { get; init; }

    /// <summary>Cut inputs longer than the model's limit (true) or refuse them (false).</summary>
    public bool Truncate { get; init; } = true;

    /// <summary>The defaults: model's layers and pooling, normalized, all dimensions, truncating.</summary>
    public static EmbedRequestOptions Default { get; } = new();

    /// <summary>Value equality, layer lists compared element by element.</summary>
    public bool Equals(EmbedRequestOptions? other) =>
        other is not null
        && LayerMode == other.LayerMode && Pooling == other.Pooling && Normalize == other.Normalize
        && Dimensions == other.Dimensions && Truncate == other.Truncate
        && (Layers is null ? other.Layers is null : other.Layers is not null && Layers.SequenceEqual(other.Layers));

    /// <summary>Hash consistent with <see cref="Equals(EmbedRequestOptions?)"/>.</summary>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(LayerMode);
        hash.Add(Pooling);
        hash.Add(Normalize);
        hash.Add(Dimensions);
        hash.Add(Truncate);
        if (Layers is not null) foreach (var layer in Layers) hash.Add(layer);
        return hash.ToHashCode();
    }
}

/// <summary>Options of a keyword request.</summary>
public sealed record KeywordRequestOptions
{
    /// <summary>How many keywords to return.</summary>
    public int TopK { get; init; } = 5;

    /// <summary>Shortest and longest candidate phrase in words.</summary>
    public int MinWords { get; init; } = 1;

    /// <summary>Longest candidate phrase in words.</summary>
    public int MaxWords { get; init; } = 1;

    /// <summary>Maximal marginal relevance diversity in [0, 1]; null ranks by similarity alone.</summary>
    public float? Diversity { get; init; }

    /// <summary>How document and candidates are embedded.</summary>
    public EmbedRequestOptions Embedding { get; init; } = EmbedRequestOptions.Default;
}
