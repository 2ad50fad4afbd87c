using KeyEmbed.Embedding;

namespace KeyEmbed.Server;

/// <summary>The service's backend over the library facade: one <see cref="KeyEmbedModel"/>.</summary>
public sealed class KeyEmbedModelBackend : IEmbeddingBackend, IDisposable
{
    private readonly KeyEmbedModel _model;

    /// <summary>Wraps a loaded model; the backend owns it from now on.</summary>
    public KeyEmbedModelBackend(KeyEmbedModel model)
    {
        _model = model;
        var info = model.Info;
        Model = new ModelFacts(info.Name, info.Architecture, info.HiddenSize, info.Layers, info.MaxTokens, model.Defaults);
    }

    /// <summary>Loads <paramref name="model"/> (folder, file or built-in name) with the given settings.</summary>
    public static KeyEmbedModelBackend Load(string? model, KeyEmbedModelOptions? options = null) =>
        new(KeyEmbedModel.Load(model, options));

    /// <inheritdoc />
    public ModelFacts Model { get; }

    /// <inheritdoc />
    public TokenizedText Tokenize(string text)
    {
        var encoded = _model.Tokenizer.Encode(text);
        return new TokenizedText(encoded.Tokens, encoded.Ids, [.. encoded.Offsets.Select(o => (o.Start, o.End))]);
    }

    /// <inheritdoc />
    public int CountTokens(string text) => _model.CountTokens(text);

    /// <inheritdoc />
    public double UnknownShare(string text) => _model.Tokenizer.UnknownShare(text);

    /// <inheritdoc />
    public float[][] EmbedBatch(IReadOnlyList<string> texts, EmbeddingOptions options) => _model.Embed(texts, options).Vectors;

    /// <inheritdoc />
    public PreparedInput Prepare(string text)
    {
        var prepared = _model.Prepare(text);
        return new PreparedInput(text, prepared.Tokens, prepared.UnknownShare) { Encoding = prepared };
    }

    /// <inheritdoc />
    public float[][] EmbedPrepared(IReadOnlyList<PreparedInput> inputs, EmbeddingOptions options) =>
        inputs.All(i => i.Encoding is not null)
            ? _model.EmbedPrepared([.. inputs.Select(i => i.Encoding!)], options).Vectors
            : EmbedBatch([.. inputs.Select(i => i.Text)], options);

    /// <inheritdoc />
    public TokenEmbeddings EmbedTokens(string text, EmbeddingOptions options) => TokenEmbeddingsOf(_model.EmbedTokens(text, options));

    /// <inheritdoc />
    public TokenEmbeddings EmbedTokens(PreparedInput input, EmbeddingOptions options) =>
        TokenEmbeddingsOf(input.Encoding is { } prepared ? _model.EmbedTokens(prepared, options) : _model.EmbedTokens(input.Text, options));

    private static TokenEmbeddings TokenEmbeddingsOf(TokenLevelEmbeddings result)
    {
        var tokens = new TokenizedText(
            [.. result.Tokens.Select(t => t.Token)], [.. result.Tokens.Select(t => t.Id)],
            [.. result.Tokens.Select(t => (t.Start, t.Start + t.Length))]);
        return new TokenEmbeddings(tokens, [.. result.Tokens.Select(t => t.Vector)]);
    }

    /// <inheritdoc />
    public KeyEmbed.Stores.StoreProfile? ProfileFor(EmbeddingOptions options) => KeyEmbed.Stores.StoreProfile.Of(_model, options);

    /// <inheritdoc />
    public void Dispose() => _model.Dispose();
}
