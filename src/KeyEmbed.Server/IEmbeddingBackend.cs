using KeyEmbed.Embedding;

namespace KeyEmbed.Server;

/// <summary>
/// What the HTTP service needs from a loaded model. The service never touches ONNX Runtime: it tokenizes to count
/// and to check limits, and hands batches of texts to <see cref="EmbedBatch"/> from a single worker thread.
/// <see cref="EmbedBatch"/> and <see cref="EmbedTokens(string, EmbeddingOptions)"/> are called by one thread at a time; <see cref="Tokenize"/>
/// and <see cref="CountTokens"/> are called from request threads concurrently and must be thread-safe.
/// Failures the user can act on are <see cref="KeyEmbedException"/>s. Keywords are ranked by the service itself from
/// <see cref="EmbedBatch"/> (the library's KeyBERT-style extractor), so a backend only embeds.
/// </summary>
public interface IEmbeddingBackend
{
    /// <summary>Facts about the loaded model, shown by <c>GET /info</c> and used for defaults and limits.</summary>
    ModelFacts Model { get; }

    /// <summary>Splits a text as the model's tokenizer does (special tokens included).</summary>
    TokenizedText Tokenize(string text);

    /// <summary>How many tokens the model would see for <paramref name="text"/> with long-text windows (every window or segment, special tokens included).</summary>
    int CountTokens(string text);

    /// <summary>
    /// The share (0..1) of <paramref name="text"/>'s tokens, special tokens aside, that the vocabulary does not know
    /// (<see cref="Tokenization.UnknownTokens"/>); thread-safe like <see cref="Tokenize"/>. 0 when the backend cannot tell.
    /// </summary>
    double UnknownShare(string text) => 0;

    /// <summary>
    /// One pooled vector per text, in the order given. Texts longer than <see cref="ModelFacts.MaxTokens"/> are handled
    /// as <see cref="EmbeddingOptions.LongText"/> says (the service refuses them beforehand under
    /// <see cref="LongTextMode.Error"/>). The options were checked with <see cref="EmbeddingOptions.Resolve"/> against
    /// <see cref="ModelFacts.Defaults"/>.
    /// </summary>
    float[][] EmbedBatch(IReadOnlyList<string> texts, EmbeddingOptions options);

    /// <summary>
    /// Tokenizes <paramref name="text"/> once for the service: its token count (as <see cref="CountTokens"/>) and
    /// unknown-token share (as <see cref="UnknownShare"/>) for the checks, and what the backend needs to embed it without
    /// tokenizing it again (<see cref="EmbedPrepared"/>); the batching queue carries the result. Thread-safe like
    /// <see cref="Tokenize"/>. By default it counts and measures, and keeps nothing.
    /// </summary>
    PreparedInput Prepare(string text) => new(text, CountTokens(text), UnknownShare(text));

    /// <summary>
    /// <see cref="EmbedBatch"/> of texts this backend <see cref="Prepare"/>d (or not: an input without
    /// <see cref="PreparedInput.Encoding"/> is tokenized here). By default the texts go to <see cref="EmbedBatch"/>.
    /// </summary>
    float[][] EmbedPrepared(IReadOnlyList<PreparedInput> inputs, EmbeddingOptions options) => EmbedBatch([.. inputs.Select(i => i.Text)], options);

    /// <summary>One vector per token of <paramref name="text"/> (pooling ignored), with the tokens and their character offsets.</summary>
    TokenEmbeddings EmbedTokens(string text, EmbeddingOptions options);

    /// <summary><see cref="EmbedTokens(string, EmbeddingOptions)"/> of a text this backend <see cref="Prepare"/>d; by default the text is tokenized again.</summary>
    TokenEmbeddings EmbedTokens(PreparedInput input, EmbeddingOptions options) => EmbedTokens(input.Text, options);

    /// <summary>
    /// What vectors made under <paramref name="options"/> are, as a vector store records it (model weights hash and
    /// resolved options); null when this backend cannot say, and then it cannot write or search stores.
    /// </summary>
    KeyEmbed.Stores.StoreProfile? ProfileFor(EmbeddingOptions options) => null;
}

/// <summary>Facts about a loaded model.</summary>
/// <param name="Name">Model name or path as the user gave it (the <c>model</c> field of OpenAI responses).</param>
/// <param name="Architecture">Architecture name, e.g. <c>bert</c> or <c>xlnet</c>.</param>
/// <param name="Dimensions">Size of one pooled vector from one layer.</param>
/// <param name="Layers">Number of transformer layers (hidden state 0 is the embedding output).</param>
/// <param name="MaxTokens">The model's window in tokens; longer inputs are windowed, truncated or refused.</param>
/// <param name="Defaults">What the model uses when a request leaves layers, pooling or normalization open.</param>
public sealed record ModelFacts(string Name, string Architecture, int Dimensions, int Layers, int MaxTokens, EmbeddingDefaults Defaults);

/// <summary>A text as the service queues it: tokenized once by <see cref="IEmbeddingBackend.Prepare"/>.</summary>
/// <param name="Text">The text.</param>
/// <param name="Tokens">Tokens the model sees for it with long-text windows (every window, special tokens included).</param>
/// <param name="UnknownShare">The share (0..1) of its tokens the vocabulary does not know.</param>
public sealed record PreparedInput(string Text, int Tokens, double UnknownShare)
{
    /// <summary>The library's tokenization of the text (<see cref="KeyEmbedModel.Prepare"/>); null when the backend keeps none.</summary>
    public PreparedText? Encoding { get; init; }
}

/// <summary>A text split into the model's tokens.</summary>
/// <param name="Tokens">Token strings as the vocabulary spells them.</param>
/// <param name="Ids">Vocabulary ids, one per token.</param>
/// <param name="Offsets">Character range <c>[start, end)</c> of each token in the text; special tokens have <c>(0, 0)</c>.</param>
public sealed record TokenizedText(IReadOnlyList<string> Tokens, IReadOnlyList<int> Ids, IReadOnlyList<(int Start, int End)> Offsets);

/// <summary>Token-level vectors of one text.</summary>
/// <param name="Tokens">The tokens, with ids and offsets.</param>
/// <param name="Vectors">One vector per token, in token order.</param>
public sealed record TokenEmbeddings(TokenizedText Tokens, float[][] Vectors);
