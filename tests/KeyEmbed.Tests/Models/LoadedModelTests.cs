using KeyEmbed.Models;
using KeyEmbed.Runtime;

namespace KeyEmbed.Tests.Models;

public sealed class LoadedModelTests
{
    [Fact]
    public void Built_in_model_facts_match_its_golden_config()
    {
        using var loaded = LoadedModel.Open("minilm");
        var arch = loaded.Architecture;
        Assert.Equal("bert", arch.Name);
        Assert.Equal(6, arch.LayerCount);
        Assert.Equal(384, arch.HiddenSize);
        Assert.Equal(512, arch.MaxSequenceLength);
        var facts = arch.Facts.ToDictionary(f => f.Key, f => f.Value);
        Assert.Equal("12", facts["attention heads"]);
        Assert.Equal("1536", facts["intermediate size"]);
        Assert.Equal("30522", facts["vocab size"]);
        Assert.Equal("onnx", loaded.Weights.Format);
        Assert.Equal(["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"], arch.IgnoredWeights);
        // Encoder parameters: embeddings (30522 + 512 + 2) * 384 + LayerNorm, six layers of 4 attention and 2 FFN linears.
        long perLayer = 4 * (384 * 384 + 384) + (384 * 1536 + 1536) + (1536 * 384 + 384) + 2 * 2 * 384;
        Assert.Equal((30522 + 512 + 2) * 384 + 2 * 384 + 6 * perLayer, arch.ParameterCount);
    }

    [Fact]
    public void Graph_is_built_once_and_then_read_from_the_cache()
    {
        using var dir = new TempDir();
        var cache = new GraphCache(dir.Path);
        using var loaded = LoadedModel.Open(SharedData.Golden("bert-tiny-random"));
        var first = loaded.GraphBytes(loaded.AllHiddenStates, cache, out bool firstHit);
        var second = loaded.GraphBytes(loaded.AllHiddenStates, cache, out bool secondHit);
        Assert.False(firstHit);
        Assert.True(secondHit);
        Assert.Equal(first, second);
        // A different request is a different entry.
        loaded.GraphBytes(new KeyEmbed.Architectures.GraphRequest(1), cache, out bool otherHit);
        Assert.False(otherHit);
        Assert.Equal(2, Directory.GetFiles(dir.Path, "*.onnx").Length);
    }

    [Fact]
    public void Changed_weights_miss_the_cache()
    {
        using var dir = new TempDir();
        using var model = new TempDir();
        File.Copy(SharedData.Golden("bert-tiny-random", "config.json"), model.File("config.json"));
        File.Copy(SharedData.Golden("bert-tiny-random", "model.safetensors"), model.File("model.safetensors"));
        var cache = new GraphCache(dir.Path);
        using (var loaded = LoadedModel.Open(model.Path)) loaded.GraphBytes(loaded.AllHiddenStates, cache, out _);
        // Same size, one byte of data changed, new time stamp.
        var bytes = File.ReadAllBytes(model.File("model.safetensors"));
        bytes[^1] ^= 0x40;
        File.WriteAllBytes(model.File("model.safetensors"), bytes);
        File.SetLastWriteTimeUtc(model.File("model.safetensors"), DateTime.UtcNow.AddMinutes(1));
        using (var loaded = LoadedModel.Open(model.Path))
        {
            loaded.GraphBytes(loaded.AllHiddenStates, cache, out bool hit);
            Assert.False(hit);
        }
    }
}
