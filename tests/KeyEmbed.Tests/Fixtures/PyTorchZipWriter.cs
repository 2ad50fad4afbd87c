using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// Writes what <c>torch.save(state_dict, path)</c> writes: a zip with <c>archive/data.pkl</c> (a protocol-2 pickle of an
/// OrderedDict whose values are <c>torch._utils._rebuild_tensor_v2(persistent storage id, offset, size, stride, False,
/// OrderedDict())</c>), <c>archive/data/&lt;key&gt;</c> raw little-endian storages, <c>archive/version</c> and
/// <c>archive/byteorder</c>, every member stored uncompressed.
/// </summary>
internal sealed class PyTorchZipWriter
{
    private readonly List<(string Name, int Storage, long Offset, long[] Size, long[] Stride)> _tensors = [];
    private readonly List<(string TypeName, byte[] Data, long ElementCount)> _storages = [];

    public string ArchiveName { get; init; } = "archive";

    /// <summary>Adds a contiguous float32 tensor with its own storage.</summary>
    public PyTorchZipWriter Add(string name, long[] shape, float[] data) =>
        AddView(name, AddStorage(data), 0, shape, ContiguousStrides(shape));

    /// <summary>Adds a contiguous int64 tensor with its own storage.</summary>
    public PyTorchZipWriter Add(string name, long[] shape, long[] data)
    {
        _storages.Add(("LongStorage", MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), data.Length));
        return AddView(name, _storages.Count - 1, 0, shape, ContiguousStrides(shape));
    }

    /// <summary>Adds a float32 storage that views can share; returns its index (also its key in the archive).</summary>
    public int AddStorage(float[] data, string typeName = "FloatStorage", long? claimedElements = null)
    {
        _storages.Add((typeName, MemoryMarshal.AsBytes(data.AsSpan()).ToArray(), claimedElements ?? data.Length));
        return _storages.Count - 1;
    }

    /// <summary>Adds a tensor as a view (offset, sizes, strides in elements) over a storage added earlier.</summary>
    public PyTorchZipWriter AddView(string name, int storage, long offset, long[] size, long[] stride)
    {
        _tensors.Add((name, storage, offset, size, stride));
        return this;
    }

    public static long[] ContiguousStrides(long[] shape)
    {
        var strides = new long[shape.Length];
        long step = 1;
        for (int d = shape.Length - 1; d >= 0; d--) { strides[d] = step; step *= shape[d]; }
        return strides;
    }

    public void Save(string path)
    {
        var storages = new Dictionary<string, byte[]>();
        for (int i = 0; i < _storages.Count; i++) storages[i.ToString()] = _storages[i].Data;
        SaveArchive(path, StateDictPickle(), storages, ArchiveName);
    }

    /// <summary>Writes a torch-style zip around any pickle, e.g. a hostile one.</summary>
    public static void SaveArchive(string path, byte[]? pickle, IReadOnlyDictionary<string, byte[]> storages, string archive = "archive")
    {
        File.Delete(path);
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Member(string name, byte[] bytes)
        {
            using var stream = zip.CreateEntry($"{archive}/{name}", CompressionLevel.NoCompression).Open();
            stream.Write(bytes);
        }
        if (pickle != null) Member("data.pkl", pickle);
        Member("byteorder", Encoding.ASCII.GetBytes("little"));
        foreach (var (key, bytes) in storages) Member("data/" + key, bytes);
        Member("version", Encoding.ASCII.GetBytes("3\n"));
    }

    /// <summary>
    /// Writes torch's pre-1.6 format: pickles of the magic number, the protocol version (1001) and system info, the
    /// state dict (persistent ids carry a sixth item, the view metadata, None), the storage keys; then each storage as
    /// an 8-byte element count followed by its bytes.
    /// </summary>
    public void SaveLegacy(string path)
    {
        using var file = File.Create(path);
        // 0x1950a86a20f9469cfc6c as a 10-byte little-endian LONG1.
        file.Write(new PickleBuilder().Proto(2).Op(0x8a).Op(10).Raw([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]).Stop().ToArray());
        file.Write(new PickleBuilder().Proto(2).Op((byte)'M').Raw([0xe9, 0x03]).Stop().ToArray());
        file.Write(new PickleBuilder().Proto(2).EmptyDict().Mark()
            .String("protocol_version").Int(1001).String("little_endian").Op(0x88)
            .String("type_sizes").EmptyDict().Mark().String("short").Int(2).String("int").Int(4).String("long").Int(8).SetItems()
            .SetItems().Stop().ToArray());
        file.Write(StateDictPickle(legacy: true));
        var keys = new PickleBuilder().Proto(2).Op((byte)']').Mark();
        for (int i = 0; i < _storages.Count; i++) keys.String(i.ToString());
        file.Write(keys.Op((byte)'e').Stop().ToArray());
        foreach (var (_, data, elementCount) in _storages)
        {
            file.Write(BitConverter.GetBytes(elementCount));
            file.Write(data);
        }
    }

    private byte[] StateDictPickle(bool legacy = false)
    {
        // Memo slots as torch's pickler would use them: 0 OrderedDict, 1 _rebuild_tensor_v2, 2+ storage types.
        var p = new PickleBuilder().Proto(2).Global("collections", "OrderedDict").Put(0).EmptyTuple().Reduce().Put(1).Mark();
        bool rebuildStored = false;
        var typeSlots = new Dictionary<string, byte>();
        foreach (var t in _tensors)
        {
            var storage = _storages[t.Storage];
            p.String(t.Name);
            if (rebuildStored) p.Get(2);
            else { p.Global("torch._utils", "_rebuild_tensor_v2").Put(2); rebuildStored = true; }
            p.Mark().Mark().String("storage");
            if (typeSlots.TryGetValue(storage.TypeName, out var slot)) p.Get(slot);
            else
            {
                slot = (byte)(3 + typeSlots.Count);
                p.Global("torch", storage.TypeName).Put(slot);
                typeSlots[storage.TypeName] = slot;
            }
            p.String(t.Storage.ToString()).String("cpu").Int(storage.ElementCount);
            if (legacy) p.Op((byte)'N');
            p.Tuple().PersistentId();
            p.Int(t.Offset).IntTuple(t.Size).IntTuple(t.Stride).False()
                .Get(0).EmptyTuple().Reduce() // backward_hooks = OrderedDict()
                .Tuple().Reduce();
        }
        p.SetItems();
        // torch.save keeps a state dict's `_metadata` attribute: BUILD with {'_metadata': OrderedDict({'': {'version': 1}})}.
        p.EmptyDict().String("_metadata").Get(0).EmptyTuple().Reduce()
            .Mark().String("").EmptyDict().String("version").Int(1).Op((byte)'s').SetItems()
            .Op((byte)'s').Build();
        return p.Stop().ToArray();
    }
}
