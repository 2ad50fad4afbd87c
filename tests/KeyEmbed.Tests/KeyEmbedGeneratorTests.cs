using KeyEmbed.Embedding;
using KeyEmbed.Tests.Embedding;
using Microsoft.Extensions.AI;

namespace KeyEmbed.Tests;

public sealed class KeyEmbedGeneratorTests
{
    [Fact]
    public async Task Generated_embeddings_are_the_facade_vectors_in_order_with_token_usage()
    {
        var model = SharedModels.Tiny;
        using var generator = new KeyEmbedGenerator(model);
        IEmbeddingGenerator<string, Embedding<float>> abstraction = generator;
        string[] texts = ["tiny test", "deep learning nets", "tiny test"];
        var embeddings = await abstraction.GenerateAsync(texts);

        var expected = model.Embed(texts);
        Assert.Equal(3, embeddings.Count);
        for (int i = 0; i < 3; i++) Assert.Equal(expected.Vectors[i], embeddings[i].Vector.ToArray());
        Assert.All(embeddings, e => Assert.Equal(model.Info.Name, e.ModelId));
        Assert.Equal(expected.Tokens.Sum(), embeddings.Usage!.InputTokenCount);
        Assert.Equal(embeddings.Usage.InputTokenCount, embeddings.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task Dimensions_option_truncates_and_renormalizes_when_normalizing()
    {
        using var generator = new KeyEmbedGenerator(SharedModels.Tiny, new EmbeddingOptions { Normalize = true });
        var full = await generator.GenerateVectorAsync("deep learning");
        var cut = (await generator.GenerateAsync(["deep learning"], new EmbeddingGenerationOptions { Dimensions = 4 }))[0].Vector;
        Assert.Equal(4, cut.Length);
        Assert.Equal(1.0, VectorMath.Norm(cut.Span), 5);
        Assert.True(VectorMath.Cosine(full.Span[..4], cut.Span) > 0.99999);

        var tooWide = await Assert.ThrowsAsync<KeyEmbedException>(() =>
            generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 100_000 }));
        Assert.Contains("dimensions", tooWide.Message);
        await Assert.ThrowsAsync<KeyEmbedException>(() =>
            generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "some-other-model" }));
    }

    [Fact]
    public void Services_are_the_metadata_the_model_and_the_generator()
    {
        var model = SharedModels.Tiny;
        using var generator = new KeyEmbedGenerator(model, new EmbeddingOptions { Layers = [-1, -2], LayerMode = LayerMode.Concat });
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.NotNull(metadata);
        Assert.Equal("keyembed", metadata.ProviderName);
        Assert.Equal(model.Info.Name, metadata.DefaultModelId);
        Assert.Equal(model.Info.HiddenSize * 2, metadata.DefaultModelDimensions);
        Assert.Same(model, generator.GetService<KeyEmbedModel>());
        Assert.Same(generator, generator.GetService<IEmbeddingGenerator<string, Embedding<float>>>());
        Assert.Null(generator.GetService<KeyEmbedModel>("a key"));
        Assert.Null(generator.GetService<string>());
    }

    [Fact]
    public async Task Disposing_a_borrowing_generator_leaves_the_model_usable()
    {
        var model = SharedModels.Tiny;
        var generator = new KeyEmbedGenerator(model);
        generator.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => generator.GenerateAsync(["x"]));
        Assert.Single(model.Embed(["still works"]).Vectors);
    }

    [Fact]
    public async Task A_loaded_generator_owns_its_model_and_disposes_it()
    {
        var generator = KeyEmbedGenerator.Load(SharedData.Golden("bert-tiny-random"), modelOptions: new KeyEmbedModelOptions { UseGraphCache = false });
        Assert.Single(await generator.GenerateAsync(["tiny test"]));
        var model = generator.Model;
        generator.Dispose();
        Assert.ThrowsAny<ObjectDisposedException>(() => model.Embed(["after dispose"]));
    }

    [Fact]
    public void Token_level_or_quantized_options_are_refused_up_front()
    {
        Assert.Throws<KeyEmbedException>(() => new KeyEmbedGenerator(SharedModels.Tiny, new EmbeddingOptions { Pooling = PoolingMode.None }));
        Assert.Throws<KeyEmbedException>(() => new KeyEmbedGenerator(SharedModels.Tiny, new EmbeddingOptions { Precision = VectorPrecision.Int8 }));
        Assert.Throws<KeyEmbedException>(() => new KeyEmbedGenerator(SharedModels.Tiny, new EmbeddingOptions { Layers = [9] }));
    }
}
