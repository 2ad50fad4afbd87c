using System.Text.Json;
using KeyEmbed.Checkpoints;
using KeyEmbed.Checkpoints.Safetensors;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Checkpoints;

/// <summary>Hugging Face sharded checkpoints (<c>*.index.json</c> + shards) read as one model.</summary>
public sealed class ShardedCheckpointTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    // The golden tiny BERT's tensors dealt round-robin into shards of the given format, with the index naming them.
    internal static void WriteShardedCopy(string folder, bool safetensors, int shards = 2)
    {
        using var source = new SafetensorsReader(Path.Combine(TinyModel, "model.safetensors"));
        var map = new Dictionary<string, string>();
        var safetensorShards = Enumerable.Range(0, shards).Select(_ => new SafetensorsWriter()).ToArray();
        var torchShards = Enumerable.Range(0, shards).Select(_ => new PyTorchZipWriter()).ToArray();
        string Name(int shard) => safetensors ? $"model-{shard + 1:00000}-of-{shards:00000}.safetensors" : $"pytorch_model-{shard + 1:00000}-of-{shards:00000}.bin";
        for (int i = 0; i < source.Tensors.Count; i++)
        {
            var info = source.Tensors[i];
            int shard = i % shards;
            if (safetensors) safetensorShards[shard].Add(info.Name, info.Shape, source.ReadFloat32(info.Name));
            else torchShards[shard].Add(info.Name, info.Shape, source.ReadFloat32(info.Name));
            map[info.Name] = Name(shard);
        }
        for (int shard = 0; shard < shards; shard++)
        {
            if (safetensors) safetensorShards[shard].Save(Path.Combine(folder, Name(shard)));
            else torchShards[shard].Save(Path.Combine(folder, Name(shard)));
        }
        string index = safetensors ? "model.safetensors.index.json" : "pytorch_model.bin.index.json";
        File.WriteAllText(Path.Combine(folder, index), JsonSerializer.Serialize(new { metadata = new { total_size = 0 }, weight_map = map }));
        foreach (var file in new[] { "config.json", "vocab.txt" }) File.Copy(Path.Combine(TinyModel, file), Path.Combine(folder, file));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_sharded_checkpoint_gives_the_vectors_of_the_single_file(bool safetensors)
    {
        using var dir = new TempDir();
        WriteShardedCopy(dir.Path, safetensors);
        string[] texts = ["hello world", "sharded checkpoints load as one model"];
        var options = new KeyEmbedModelOptions { UseGraphCache = false, CacheBytes = 0 };
        using var single = KeyEmbedModel.Load(TinyModel, options);
        using var sharded = KeyEmbedModel.Load(dir.Path, options);
        Assert.Equal(safetensors ? "safetensors" : "pytorch", sharded.Info.Format);
        var expected = single.Embed(texts).Vectors;
        var actual = sharded.Embed(texts).Vectors;
        for (int i = 0; i < texts.Length; i++) Assert.Equal(expected[i], actual[i]);
    }

    [Fact]
    public void The_shards_are_part_of_the_weights_hashed_for_the_graph_cache()
    {
        using var dir = new TempDir();
        WriteShardedCopy(dir.Path, safetensors: true, shards: 3);
        var files = KeyEmbed.Models.ModelLocator.Locate(dir.Path);
        Assert.EndsWith("model.safetensors.index.json", files.WeightsPath);
        Assert.Equal(4, files.WeightFiles.Count);
        Assert.All(files.WeightFiles, f => Assert.True(File.Exists(f), f));
    }

    [Fact]
    public void A_broken_index_or_missing_shard_is_a_clear_checkpoint_error()
    {
        using var dir = new TempDir();
        WriteShardedCopy(dir.Path, safetensors: true);
        string index = dir.File("model.safetensors.index.json");
        string good = File.ReadAllText(index);

        File.Delete(dir.File("model-00002-of-00002.safetensors"));
        var error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Equal(ErrorKind.InvalidCheckpoint, error.Kind);
        Assert.Contains("model-00002-of-00002.safetensors", error.Message);
        Assert.Contains("missing", error.Message);

        // A tensor the index places in a shard that does not hold it.
        new SafetensorsWriter().Add("unrelated", [1], [1f]).Save(dir.File("model-00002-of-00002.safetensors"));
        error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("do not match", error.Message);

        File.WriteAllText(index, "{ not json");
        error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("not valid JSON", error.Message);

        File.WriteAllText(index, "{\"metadata\": {}}");
        error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("weight_map", error.Message);

        File.WriteAllText(index, good.Replace("model-00001-of-00002.safetensors", "../model-00001-of-00002.safetensors"));
        error = Assert.Throws<KeyEmbedException>(() => KeyEmbedModel.Load(dir.Path));
        Assert.Contains("outside the model folder", error.Message);
    }
}
