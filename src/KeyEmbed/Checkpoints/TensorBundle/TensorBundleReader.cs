using System.IO.MemoryMappedFiles;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using KeyEmbed.Checkpoints.TensorBundle.Proto;

namespace KeyEmbed.Checkpoints.TensorBundle;

/// <summary>
/// Reads a TensorFlow checkpoint in the TensorBundle format (<c>model.ckpt.index</c> plus
/// <c>model.ckpt.data-NNNNN-of-NNNNN</c> shards), as Google released BERT and XLNet. Names and layouts stay as
/// stored (e.g. <c>bert/encoder/layer_0/attention/self/query/kernel</c>, kernels <c>[in, out]</c>).
/// The index is validated when the reader opens; shards are memory-mapped on first use and every tensor's
/// CRC-32C is checked when it is read.
/// </summary>
public sealed partial class TensorBundleReader : ITensorSource
{
    // The index is a few KB per thousand tensors; anything near this is not an index.
    private const long MaxIndexBytes = 1L << 30;
    // TensorFlow's own bundle version; a bundle that needs a newer reader says so in min_consumer.
    private const int SupportedBundleVersion = 1;

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly List<TensorInfo> _order = [];
    private readonly Dictionary<string, string> _unreadable = new(StringComparer.Ordinal);
    private readonly Shard[] _shards;

    /// <summary>
    /// Opens a checkpoint by its prefix (<c>dir/bert_model.ckpt</c>), its <c>.index</c> file or one of its data shards.
    /// </summary>
    public TensorBundleReader(string prefixOrIndexPath)
    {
        string prefix = DataShardSuffix().Replace(prefixOrIndexPath, "");
        if (prefix.EndsWith(".index", StringComparison.Ordinal)) prefix = prefix[..^".index".Length];
        Path = prefix + ".index";
        if (!File.Exists(Path))
            throw KeyEmbedException.Checkpoint(Path, "checkpoint index not found; pass the checkpoint prefix (e.g. dir/bert_model.ckpt) or its .index file");
        long indexLength = FileLength.Of(Path);
        if (indexLength > MaxIndexBytes)
            throw KeyEmbedException.Checkpoint(Path, $"index file is {indexLength} bytes, far larger than any checkpoint index; not a TensorFlow checkpoint index");

        var records = SsTable.ReadAll(Path, File.ReadAllBytes(Path));
        if (records.Count == 0 || records[0].Key.Length != 0)
            throw KeyEmbedException.Checkpoint(Path, "the table has no bundle header under the empty key; not a TensorFlow TensorBundle index");
        var header = Parse(BundleHeader.Parser, records[0].Value, "bundle header");
        if (header.NumShards < 1)
            throw KeyEmbedException.Checkpoint(Path, $"bundle header claims {header.NumShards} data shards; at least 1 is needed");
        if (header.Endianness != BundleHeader.Types.Endianness.Little)
            throw KeyEmbedException.Checkpoint(Path, "the bundle was written big-endian; KeyEmbed reads little-endian checkpoints only (re-save it on a little-endian machine)");
        if (header.Version is { } version && version.MinConsumer > SupportedBundleVersion)
            throw KeyEmbedException.Checkpoint(Path, $"the bundle needs a reader of version {version.MinConsumer} or newer; KeyEmbed reads version {SupportedBundleVersion}");

        _shards = new Shard[header.NumShards];
        for (int i = 0; i < _shards.Length; i++)
            _shards[i] = new Shard($"{prefix}.data-{i:D5}-of-{header.NumShards:D5}");

        for (int i = 1; i < records.Count; i++)
        {
            var (key, value) = records[i];
            // Keys that start with a zero byte name one slice of a partitioned variable; the variable's own
            // entry (listing its slices) is reported as unreadable below.
            if (key.Length > 0 && key[0] == 0) continue;
            AddEntry(Encoding.UTF8.GetString(key), Parse(BundleEntry.Parser, value, $"entry {i}"));
        }
    }

    [GeneratedRegex(@"\.data-\d{5}-of-\d{5}$")]
    private static partial Regex DataShardSuffix();

    /// <inheritdoc />
    public string Format => "tensorflow";

    /// <summary>The checkpoint's <c>.index</c> file.</summary>
    public string Path { get; }

    /// <summary>Number of <c>.data-NNNNN-of-NNNNN</c> shards the checkpoint has.</summary>
    public int ShardCount => _shards.Length;

    /// <inheritdoc />
    public IReadOnlyList<TensorInfo> Tensors => _order;

    /// <summary>
    /// Stored variables KeyEmbed cannot read (strings, complex numbers, partitioned variables…), name to reason.
    /// They are not in <see cref="Tensors"/>; reading one throws with that reason.
    /// </summary>
    public IReadOnlyDictionary<string, string> UnreadableTensors => _unreadable;

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_entries.TryGetValue(name, out var e)) { info = e.Info; return true; }
        info = null!;
        return false;
    }

    /// <inheritdoc />
    public float[] ReadFloat32(string name)
    {
        var entry = Find(name);
        if (!TensorConversion.IsFloating(entry.Info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {entry.Info.DType}, not a floating type");
        var result = new float[entry.Info.ElementCount];
        WithBytes(entry, raw => TensorConversion.ToFloat32(raw, entry.Info.DType, result));
        return result;
    }

    /// <inheritdoc />
    public long[] ReadInt64(string name)
    {
        var entry = Find(name);
        if (TensorConversion.IsFloating(entry.Info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {entry.Info.DType}, not an integer type");
        var result = new long[entry.Info.ElementCount];
        WithBytes(entry, raw => TensorConversion.ToInt64(raw, entry.Info.DType, result));
        return result;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var shard in _shards) shard.Dispose();
    }

    private sealed record Entry(TensorInfo Info, int ShardId, long Offset, long Size, uint MaskedCrc);

    private T Parse<T>(MessageParser<T> parser, byte[] bytes, string what) where T : IMessage<T>
    {
        try { return parser.ParseFrom(bytes); }
        catch (InvalidProtocolBufferException e)
        {
            throw KeyEmbedException.Checkpoint(Path, $"{what} is not a valid protobuf message ({e.Message}); the index is corrupt", e);
        }
    }

    private void AddEntry(string name, BundleEntry proto)
    {
        if (proto.Slices.Count > 0)
        {
            _unreadable[name] = $"partitioned variable stored as {proto.Slices.Count} slices; KeyEmbed reads whole tensors only";
            return;
        }
        TensorDType? dtype = proto.Dtype switch
        {
            DataType.DtFloat => TensorDType.F32,
            DataType.DtHalf => TensorDType.F16,
            DataType.DtBfloat16 => TensorDType.BF16,
            DataType.DtDouble => TensorDType.F64,
            DataType.DtInt32 => TensorDType.I32,
            DataType.DtInt64 => TensorDType.I64,
            DataType.DtInt8 => TensorDType.I8,
            DataType.DtUint8 or DataType.DtBool => TensorDType.U8,
            _ => null,
        };
        if (dtype is null)
        {
            _unreadable[name] = $"element type {TypeName(proto.Dtype)} cannot be read as numbers";
            return;
        }
        string Problem(string what) => $"tensor '{name}': {what}";
        if (proto.Shape is { UnknownRank: true })
            throw KeyEmbedException.Checkpoint(Path, Problem("shape has unknown rank"));
        var shape = new long[proto.Shape?.Dim.Count ?? 0];
        long elements = 1;
        for (int d = 0; d < shape.Length; d++)
        {
            long size = proto.Shape!.Dim[d].Size;
            if (size < 0) throw KeyEmbedException.Checkpoint(Path, Problem($"dimension {d} is {size}"));
            shape[d] = size;
            elements = size == 0 ? 0 : elements > long.MaxValue / size / 8 ? throw KeyEmbedException.Checkpoint(Path, Problem("shape is impossibly large")) : elements * size;
        }
        if (proto.ShardId < 0 || proto.ShardId >= _shards.Length)
            throw KeyEmbedException.Checkpoint(Path, Problem($"shard id {proto.ShardId} is outside the bundle's {_shards.Length} shards"));
        long expected = elements * TensorConversion.ElementSize(dtype.Value);
        if (proto.Size != expected)
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", shape)}] of {TypeName(proto.Dtype)} needs {expected} bytes but the entry stores {proto.Size}"));
        if (proto.Size > int.MaxValue)
            throw KeyEmbedException.Checkpoint(Path, Problem($"{proto.Size} bytes is larger than KeyEmbed reads as one tensor (2 GiB)"));
        var shard = _shards[proto.ShardId];
        long shardLength = shard.Length(Path);
        if (proto.Offset < 0 || proto.Offset > shardLength - proto.Size)
            throw KeyEmbedException.Checkpoint(shard.Path, Problem($"bytes {proto.Offset}..{proto.Offset + proto.Size} lie beyond the shard's {shardLength} bytes; the data file is truncated"));

        var info = new TensorInfo(name, shape, dtype.Value);
        if (!_entries.TryAdd(name, new Entry(info, proto.ShardId, proto.Offset, proto.Size, proto.Crc32C)))
            throw KeyEmbedException.Checkpoint(Path, Problem("appears twice in the index"));
        _order.Add(info);
    }

    // TensorFlow's own spelling (DT_STRING), as users see it in TF's errors and tools.
    private static string TypeName(DataType dtype) =>
        TensorBundleSubsetReflection.Descriptor.EnumTypes.Single(e => e.Name == nameof(DataType)).FindValueByNumber((int)dtype)?.Name ?? $"data type {(int)dtype}";

    private Entry Find(string name)
    {
        if (_entries.TryGetValue(name, out var e)) return e;
        if (_unreadable.TryGetValue(name, out var reason))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' cannot be read: {reason}");
        throw new KeyEmbedException(ErrorKind.MissingWeight, $"{Path}: no tensor named '{name}'");
    }

    private delegate void BytesAction(ReadOnlySpan<byte> raw);

    private unsafe void WithBytes(Entry entry, BytesAction action)
    {
        var shard = _shards[entry.ShardId];
        if (entry.Size == 0) { action([]); return; }
        var view = shard.View();
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        try
        {
            var raw = new ReadOnlySpan<byte>(pointer + view.PointerOffset + entry.Offset, (int)entry.Size);
            uint actual = Crc32C.Compute(raw);
            if (actual != Crc32C.Unmask(entry.MaskedCrc))
                throw KeyEmbedException.Checkpoint(shard.Path, $"tensor '{entry.Info.Name}': checksum mismatch (stored 0x{Crc32C.Unmask(entry.MaskedCrc):x8}, computed 0x{actual:x8}); the data file is corrupt");
            action(raw);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    /// <summary>One data file, mapped on first read and kept mapped until the reader is disposed.</summary>
    private sealed class Shard(string path) : IDisposable
    {
        private readonly LazyFileMap _file = new(path);
        private long _length = -1;

        public string Path => _file.Path;

        public long Length(string indexPath)
        {
            if (_length >= 0) return _length;
            if (!File.Exists(Path))
                throw KeyEmbedException.Checkpoint(Path, $"data shard not found (the index {System.IO.Path.GetFileName(indexPath)} lists tensors in it); keep every .data-NNNNN-of-NNNNN file beside the .index");
            return _length = FileLength.Of(Path);
        }

        // A shard that shrank after the index was validated would make the pointers unsafe: LazyFileMap refuses it.
        public MemoryMappedViewAccessor View() => _file.View(_length);

        public void Dispose() => _file.Dispose();
    }
}
