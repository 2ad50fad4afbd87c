using System.Text.Json;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Tests.Tokenization;

/// <summary>The model goldens' inputs (io.safetensors) are the batch encoding of the texts in their metadata.</summary>
public sealed class GoldenBatchTests
{
    [Theory]
    [InlineData("bert-minilm", "minilm")]
    [InlineData("bert-tf-keras", null)]
    [InlineData("bert-tiny-random", null)]
    public void Batch_encoding_reproduces_the_model_goldens_inputs(string golden, string? builtIn)
    {
        using var io = new SafetensorsReader(SharedData.Golden(golden, "io.safetensors"));
        var (texts, pairs) = Texts(io.Metadata);
        var encoder = TextEncoder.Load(builtIn ?? SharedData.Golden(golden));
        var batch = encoder.EncodeBatch(texts, pairs);
        Assert.Equal(io.ReadInt64("input_ids"), batch.InputIds);
        Assert.Equal(io.ReadInt64("attention_mask"), batch.AttentionMask);
        Assert.Equal(io.ReadInt64("token_type_ids"), batch.TokenTypeIds);
        Assert.True(io.TryGetInfo("input_ids", out var info));
        Assert.Equal(new long[] { batch.BatchSize, batch.SequenceLength }, info!.Shape);
    }

    [Theory]
    [InlineData("bert-minilm", null)]
    [InlineData("bert-tf-keras", "bert-tf-keras")]
    [InlineData("bert-tiny-random", "bert-tiny-random")]
    public void Tokenizer_of_a_located_model_reproduces_its_goldens_inputs(string golden, string? folder)
    {
        using var io = new SafetensorsReader(SharedData.Golden(golden, "io.safetensors"));
        var (texts, pairs) = Texts(io.Metadata);
        var files = KeyEmbed.Models.ModelLocator.Locate(folder is null ? null : SharedData.Golden(folder));
        var batch = TokenizerFiles.ForModel(files, lowercase: null).EncodeBatch(texts, pairs);
        Assert.Equal(io.ReadInt64("input_ids"), batch.InputIds);
    }

    [Fact]
    public void Located_model_without_tokenizer_file_is_a_clear_error()
    {
        var files = KeyEmbed.Models.ModelLocator.Locate(SharedData.Golden("xlnet-tiny-bi"));
        var e = Assert.Throws<KeyEmbedException>(() => TokenizerFiles.ForModel(files, lowercase: null));
        Assert.Contains("spiece.model", e.Message);
    }

    private static (List<string> Texts, List<string?> Pairs) Texts(IReadOnlyDictionary<string, string> metadata)
    {
        var texts = new List<string>();
        var pairs = new List<string?>();
        if (metadata.TryGetValue("sentences", out var sentences))
        {
            texts.AddRange(JsonSerializer.Deserialize<string[]>(sentences)!);
            pairs.AddRange(texts.Select(_ => (string?)null));
            return (texts, pairs);
        }
        foreach (var row in JsonDocument.Parse(metadata["texts"]).RootElement.EnumerateArray())
        {
            texts.Add(row[0].GetString()!);
            pairs.Add(row[1].ValueKind == JsonValueKind.Null ? null : row[1].GetString());
        }
        return (texts, pairs);
    }
}
