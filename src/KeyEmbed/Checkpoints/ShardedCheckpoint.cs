using System.Text.Json;

namespace KeyEmbed.Checkpoints;

/// <summary>
/// A Hugging Face sharded checkpoint: <c>model.safetensors.index.json</c> or <c>pytorch_model.bin.index.json</c>, whose
/// <c>weight_map</c> names the shard file of every tensor. The shards are opened with the format's own reader and seen
/// as one <see cref="ITensorSource"/>; each tensor is read from the shard the index names, lazily, like a single file.
/// </summary>
public sealed class ShardedCheckpoint : ITensorSource
{
    private readonly Dictionary<string, ITensorSource> _shardOf = new(StringComparer.Ordinal);
    private readonly List<ITensorSource> _shards = [];
    private readonly List<TensorInfo> _tensors = [];

    private ShardedCheckpoint(string indexPath, string format)
    {
        Path = indexPath;
        Format = format;
    }

    /// <inheritdoc />
    public string Format { get; }

    /// <summary>The index file.</summary>
    public string Path { get; }

    /// <summary>The shard files the index names, in index order of first mention.</summary>
    public IReadOnlyList<string> ShardFiles => [.. _shards.Select(s => s.Path)];

    /// <inheritdoc />
    public IReadOnlyList<TensorInfo> Tensors => _tensors;

    /// <summary>The shard file names an index lists (relative to its folder), in order of first mention, without opening them.</summary>
    public static IReadOnlyList<string> ListShards(string indexPath) =>
        [.. ReadWeightMap(indexPath).Select(p => p.Value).Distinct(StringComparer.Ordinal)];

    /// <summary>Opens the index and every shard it names with <paramref name="openShard"/>.</summary>
    /// <exception cref="KeyEmbedException">The index is not a weight map, a shard is missing, or a tensor is not in the shard the index names.</exception>
    public static ShardedCheckpoint Open(string indexPath, Func<string, ITensorSource> openShard)
    {
        var map = ReadWeightMap(indexPath);
        string folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(indexPath))!;
        var opened = new Dictionary<string, ITensorSource>(StringComparer.Ordinal);
        ShardedCheckpoint? checkpoint = null;
        try
        {
            foreach (var (_, file) in map)
            {
                if (opened.ContainsKey(file)) continue;
                if (System.IO.Path.IsPathRooted(file) || file.Split('/', '\\').Contains(".."))
                    throw KeyEmbedException.Checkpoint(indexPath, $"shard '{file}' is outside the model folder; an index names files beside it");
                string shardPath = System.IO.Path.Combine(folder, file);
                if (!File.Exists(shardPath))
                    throw KeyEmbedException.Checkpoint(indexPath, $"shard '{file}' named in weight_map is missing; download every shard into {folder}");
                opened[file] = openShard(shardPath);
            }
            checkpoint = new ShardedCheckpoint(indexPath, opened.Values.FirstOrDefault()?.Format ?? "sharded");
            checkpoint._shards.AddRange(opened.Values);
            foreach (var (name, file) in map)
            {
                var shard = opened[file];
                if (!shard.TryGetInfo(name, out var info))
                    throw KeyEmbedException.Checkpoint(indexPath, $"weight_map puts '{name}' in '{file}', but that shard has no such tensor; the index and the shards do not match");
                checkpoint._shardOf[name] = shard;
                checkpoint._tensors.Add(info);
            }
            return checkpoint;
        }
        catch
        {
            foreach (var shard in opened.Values) shard.Dispose();
            throw;
        }
    }

    // weight_map: { tensor name → shard file }, in file order.
    private static List<KeyValuePair<string, string>> ReadWeightMap(string indexPath)
    {
        if (!File.Exists(indexPath)) throw KeyEmbedException.Checkpoint(indexPath, "index file not found");
        try
        {
            using var document = KeyEmbed.IO.StrictJson.Parse(File.ReadAllBytes(indexPath));
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("weight_map", out var weightMap) || weightMap.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Checkpoint(indexPath, "no \"weight_map\" object; a sharded checkpoint's index maps every tensor name to its shard file");
            var map = new List<KeyValuePair<string, string>>();
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(entry.Value.GetString()))
                    throw KeyEmbedException.Checkpoint(indexPath, $"weight_map entry '{entry.Name}' is not a file name");
                map.Add(new(entry.Name, entry.Value.GetString()!));
            }
            if (map.Count == 0) throw KeyEmbedException.Checkpoint(indexPath, "weight_map is empty");
            return map;
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Checkpoint(indexPath, $"not valid JSON ({e.Message})");
        }
    }

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_shardOf.TryGetValue(name, out var shard)) return shard.TryGetInfo(name, out info);
        info = null!;
        return false;
    }

    /// <inheritdoc />
    public float[] ReadFloat32(string name) => Shard(name).ReadFloat32(name);

    /// <inheritdoc />
    public long[] ReadInt64(string name) => Shard(name).ReadInt64(name);

    private ITensorSource Shard(string name) => _shardOf.TryGetValue(name, out var shard)
        ? shard
        : throw new KeyEmbedException(ErrorKind.MissingWeight, $"{Path}: no tensor '{name}' in the weight_map");

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }
}
