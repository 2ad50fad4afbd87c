using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using KeyEmbed.Checkpoints.TensorBundle;
using KeyEmbed.Checkpoints.TensorBundle.Proto;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// Writes a TensorFlow TensorBundle checkpoint (<c>prefix.index</c> as a LevelDB-format table plus
/// <c>prefix.data-NNNNN-of-NNNNN</c> shards) for tests: several shards and small table blocks exercise what a
/// single-shard file from the shared data does not. Hooks let a test write the subtly wrong files a reader must reject.
/// </summary>
internal sealed class TensorBundleWriter
{
    private readonly List<(string Name, DataType DType, long[] Shape, byte[] Data, Action<BundleEntry>? Tamper)> _tensors = [];

    /// <summary>How many data shards tensors are spread over (round-robin in key order).</summary>
    public int ShardCount { get; init; } = 1;

    /// <summary>Target size of a table data block; small values force many blocks.</summary>
    public int BlockSize { get; init; } = 4096;

    /// <summary>A full key is stored every this many entries (a restart point); the rest share a prefix.</summary>
    public int RestartInterval { get; init; } = 16;

    /// <summary>The block trailer's compression byte (0 = none, 1 = Snappy); the checksum stays valid either way.</summary>
    public byte CompressionType { get; init; }

    public TensorBundleWriter Add(string name, long[] shape, float[] data) =>
        AddRaw(name, DataType.DtFloat, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    public TensorBundleWriter Add(string name, long[] shape, long[] data) =>
        AddRaw(name, DataType.DtInt64, shape, MemoryMarshal.AsBytes(data.AsSpan()).ToArray());

    /// <summary>Adds little-endian raw bytes of any type; <paramref name="tamper"/> may edit the entry before it is written.</summary>
    public TensorBundleWriter AddRaw(string name, DataType dtype, long[] shape, byte[] data, Action<BundleEntry>? tamper = null)
    {
        _tensors.Add((name, dtype, shape, data, tamper));
        return this;
    }

    public void Save(string prefix)
    {
        var records = new List<(byte[] Key, byte[] Value)>
        {
            ([], new BundleHeader { NumShards = ShardCount, Endianness = BundleHeader.Types.Endianness.Little, Version = new VersionInfo { Producer = 1 } }.ToByteArray()),
        };
        var shards = Enumerable.Range(0, ShardCount).Select(_ => new MemoryStream()).ToArray();
        int next = 0;
        foreach (var t in _tensors.OrderBy(t => Encoding.UTF8.GetBytes(t.Name), ByteOrder.Instance))
        {
            int shardId = next++ % ShardCount;
            var shard = shards[shardId];
            var shape = new TensorShape();
            foreach (var d in t.Shape) shape.Dim.Add(new TensorShape.Types.Dim { Size = d });
            var entry = new BundleEntry
            {
                Dtype = t.DType,
                Shape = shape,
                ShardId = shardId,
                Offset = shard.Length,
                Size = t.Data.Length,
                Crc32C = Crc32C.Mask(Crc32C.Compute(t.Data)),
            };
            t.Tamper?.Invoke(entry);
            shard.Write(t.Data);
            records.Add((Encoding.UTF8.GetBytes(t.Name), entry.ToByteArray()));
        }
        for (int i = 0; i < ShardCount; i++)
            File.WriteAllBytes($"{prefix}.data-{i:D5}-of-{ShardCount:D5}", shards[i].ToArray());
        File.WriteAllBytes(prefix + ".index", WriteTable(records));
    }

    /// <summary>A 48-byte table footer: two block handles as varints, zero padding, the magic number.</summary>
    public static byte[] Footer(ulong metaIndexOffset, ulong metaIndexSize, ulong indexOffset, ulong indexSize)
    {
        var footer = new byte[SsTable.FooterLength];
        int p = 0;
        foreach (var v in new[] { metaIndexOffset, metaIndexSize, indexOffset, indexSize }) p = WriteVarint(footer, p, v);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), SsTable.FooterMagic);
        return footer;
    }

    private byte[] WriteTable(List<(byte[] Key, byte[] Value)> records)
    {
        using var file = new MemoryStream();
        var indexEntries = new List<(byte[] Key, byte[] Value)>();
        var block = new List<(byte[] Key, byte[] Value)>();
        void Flush()
        {
            if (block.Count == 0) return;
            var (offset, size) = WriteBlock(file, block);
            indexEntries.Add((block[^1].Key, Handle(offset, size)));
            block.Clear();
        }
        int blockBytes = 0;
        foreach (var record in records)
        {
            block.Add(record);
            blockBytes += record.Key.Length + record.Value.Length + 3;
            if (blockBytes >= BlockSize) { Flush(); blockBytes = 0; }
        }
        Flush();
        var (metaOffset, metaSize) = WriteBlock(file, []);
        var (indexOffset, indexSize) = WriteBlock(file, indexEntries);
        file.Write(Footer(metaOffset, metaSize, indexOffset, indexSize));
        return file.ToArray();
    }

    private (ulong Offset, ulong Size) WriteBlock(MemoryStream file, List<(byte[] Key, byte[] Value)> entries)
    {
        var block = new MemoryStream();
        var restarts = new List<uint> { 0 };
        byte[] previous = [];
        var scratch = new byte[10];
        for (int i = 0; i < entries.Count; i++)
        {
            var (key, value) = entries[i];
            int shared = 0;
            if (i % RestartInterval == 0)
            {
                if (i > 0) restarts.Add((uint)block.Length);
            }
            else
            {
                while (shared < previous.Length && shared < key.Length && previous[shared] == key[shared]) shared++;
            }
            foreach (var v in new[] { (ulong)shared, (ulong)(key.Length - shared), (ulong)value.Length })
                block.Write(scratch, 0, WriteVarint(scratch, 0, v));
            block.Write(key, shared, key.Length - shared);
            block.Write(value);
            previous = key;
        }
        var word = new byte[4];
        foreach (var r in restarts) { BinaryPrimitives.WriteUInt32LittleEndian(word, r); block.Write(word); }
        BinaryPrimitives.WriteUInt32LittleEndian(word, (uint)restarts.Count);
        block.Write(word);

        var contents = block.ToArray();
        ulong offset = (ulong)file.Length;
        file.Write(contents);
        file.WriteByte(CompressionType);
        BinaryPrimitives.WriteUInt32LittleEndian(word, Crc32C.Mask(Crc32C.Extend(Crc32C.Compute(contents), [CompressionType])));
        file.Write(word);
        return (offset, (ulong)contents.Length);
    }

    private static byte[] Handle(ulong offset, ulong size)
    {
        var bytes = new byte[20];
        int p = WriteVarint(bytes, 0, offset);
        p = WriteVarint(bytes, p, size);
        return bytes[..p];
    }

    private static int WriteVarint(byte[] buffer, int position, ulong value)
    {
        while (value >= 0x80)
        {
            buffer[position++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[position++] = (byte)value;
        return position;
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
