using System.Buffers.Binary;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Numerics;
using Microsoft.Win32.SafeHandles;

namespace KeyEmbed.Checkpoints.PyTorch;

/// <summary>
/// Reads a PyTorch checkpoint saved by <c>torch.save</c>, e.g. <c>pytorch_model.bin</c>: the zip format of torch 1.6 and
/// later (<c>&lt;archive&gt;/data.pkl</c> describes the tensors, <c>&lt;archive&gt;/data/&lt;key&gt;</c> holds each storage's raw
/// bytes) and the older format of consecutive pickles followed by the storages. Pickles are interpreted by
/// <see cref="SafeUnpickler"/>, which never runs code; storages are memory-mapped in place. Nested dicts of tensors are
/// flattened with dots (<c>model.encoder.weight</c>).
/// </summary>
public sealed class PyTorchZipReader : ITensorSource
{
    // data.pkl describes tensors only; even a model with a million tensors stays far below this.
    private const long MaxPickleBytes = 512L * 1024 * 1024;
    private const int MaxNesting = 32;
    private const long LegacyProtocolVersion = 1001;
    private static readonly BigInteger LegacyMagicNumber = BigInteger.Parse("01950a86a20f9469cfc6c", NumberStyles.HexNumber);

    private readonly Dictionary<string, (TensorRef Tensor, TensorInfo Info)> _tensors = new(StringComparer.Ordinal);
    private readonly List<TensorInfo> _order = [];
    private readonly Dictionary<string, long> _storageOffsets = new(StringComparer.Ordinal);
    private readonly LazyFileMap _file;
    private readonly long _fileLength;

    /// <summary>Opens a <c>torch.save</c> checkpoint (zip or pre-1.6 format) and validates every tensor against its storage.</summary>
    public PyTorchZipReader(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw KeyEmbedException.Checkpoint(path, "file not found");
        _file = new LazyFileMap(path);
        try
        {
            object? root;
            using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read))
            {
                _fileLength = RandomAccess.GetLength(file);
                Span<byte> start = stackalloc byte[2];
                bool legacy = RandomAccess.Read(file, start, 0) == 2 && start[0] == 0x80 && start[1] <= 5;
                root = legacy ? OpenLegacy() : OpenZip(file);
            }
            if (root is not PickleDict dict)
                throw KeyEmbedException.Checkpoint(path, $"the pickle holds a {Describe(root)}, not a dict of tensors (a state dict)");
            Collect(dict, "", 0, new HashSet<PickleDict>(ReferenceEqualityComparer.Instance));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public string Format => "pytorch";

    /// <inheritdoc />
    public string Path { get; }

    /// <inheritdoc />
    public IReadOnlyList<TensorInfo> Tensors => _order;

    /// <inheritdoc />
    public bool TryGetInfo(string name, out TensorInfo info)
    {
        if (_tensors.TryGetValue(name, out var t)) { info = t.Info; return true; }
        info = null!;
        return false;
    }

    /// <inheritdoc />
    public float[] ReadFloat32(string name)
    {
        var (tensor, info) = Find(name);
        if (!TensorConversion.IsFloating(info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {info.DType}, not a floating type");
        var result = new float[info.ElementCount];
        WithBytes(tensor, info, raw => TensorConversion.ToFloat32(raw, info.DType, result));
        return result;
    }

    /// <inheritdoc />
    public long[] ReadInt64(string name)
    {
        var (tensor, info) = Find(name);
        if (TensorConversion.IsFloating(info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {info.DType}, not an integer type");
        var result = new long[info.ElementCount];
        WithBytes(tensor, info, raw => TensorConversion.ToInt64(raw, info.DType, result));
        return result;
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();

    private object? OpenZip(SafeFileHandle file)
    {
        var zip = new ZipDirectory(Path, file);
        var pickle = zip.Members.Where(m => m.Name.EndsWith("/data.pkl", StringComparison.Ordinal) || m.Name == "data.pkl")
            .OrderBy(m => m.Name.Count(c => c == '/')).FirstOrDefault()
            ?? throw KeyEmbedException.Checkpoint(Path, "zip has no data.pkl; it is not a checkpoint written by torch.save");
        string archive = pickle.Name[..^"data.pkl".Length];
        if (zip.TryGet(archive + "byteorder", out var byteOrder)
            && ReadMember(file, zip, byteOrder, 16).AsSpan().Trim("\r\n "u8).SequenceEqual("big"u8))
            throw KeyEmbedException.Checkpoint(Path, "the checkpoint was saved big-endian; KeyEmbed reads little-endian checkpoints only");
        if (pickle.Size > MaxPickleBytes)
            throw KeyEmbedException.Checkpoint(Path, $"{pickle.Name} is {pickle.Size} bytes, far larger than a state dict's description");

        var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        StorageRef LoadStorage(PickleTuple id) => ResolveStorage(id, file, zip, archive, storages);
        return new SafeUnpickler($"{Path}:{pickle.Name}", ReadMember(file, zip, pickle, MaxPickleBytes), LoadStorage).Load();
    }

    // torch's format before 1.6: five pickles back to back (magic number, protocol version, system info, the object,
    // the storage keys), then each storage as an 8-byte element count and its raw bytes, in key order.
    private unsafe object? OpenLegacy()
    {
        var view = View();
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        try
        {
            // The pickles sit at the front; a window of at most 2 GiB reaches them in any real file.
            var memory = new MappedMemory(pointer + view.PointerOffset, (int)Math.Min(_fileLength, int.MaxValue)).Memory;
            int position = 0;
            object? Next(string what, Func<PickleTuple, StorageRef> persistentLoad)
            {
                var unpickler = new SafeUnpickler($"{Path} ({what})", memory, persistentLoad, position);
                var value = unpickler.Load();
                position = unpickler.Position;
                return value;
            }
            StorageRef NoStorages(PickleTuple _) => throw KeyEmbedException.Checkpoint(Path, "a legacy header pickle refers to a storage");

            if (Next("magic number", NoStorages) is not BigInteger magic || magic != LegacyMagicNumber)
                throw KeyEmbedException.Checkpoint(Path, "starts with a pickle but not with torch's magic number; not a PyTorch checkpoint");
            if (Next("protocol version", NoStorages) is not LegacyProtocolVersion)
                throw KeyEmbedException.Checkpoint(Path, $"legacy torch file with an unknown protocol version (expected {LegacyProtocolVersion})");
            if (Next("system info", NoStorages) is PickleDict info && info.Items.TryGetValue("little_endian", out var little) && little is false)
                throw KeyEmbedException.Checkpoint(Path, "the checkpoint was saved big-endian; KeyEmbed reads little-endian checkpoints only");

            var storages = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
            var root = Next("state dict", id => ResolveLegacyStorage(id, storages));
            if (Next("storage keys", NoStorages) is not List<object?> keys)
                throw KeyEmbedException.Checkpoint(Path, "legacy torch file has no storage key list after its state dict; the file is corrupt");

            long offset = position;
            foreach (var key in keys)
            {
                if (key is not string name || !storages.TryGetValue(name, out var storage))
                    throw KeyEmbedException.Checkpoint(Path, $"legacy storage list names '{key}', which no tensor uses; the file is corrupt");
                if (offset > _fileLength - 8)
                    throw KeyEmbedException.Checkpoint(Path, $"storage '{name}' should start at byte {offset} but the file ends at {_fileLength}; the file is truncated");
                long stored = BinaryPrimitives.ReadInt64LittleEndian(new ReadOnlySpan<byte>(pointer + view.PointerOffset + offset, 8));
                long bytes = stored * TensorConversion.ElementSize(storage.DType);
                if (stored < storage.ElementCount || stored < 0 || bytes > _fileLength - offset - 8)
                    throw KeyEmbedException.Checkpoint(Path, $"storage '{name}' holds {stored} elements at byte {offset} but its tensors need {storage.ElementCount} and the file has {_fileLength - offset - 8} bytes left; the file is truncated or corrupt");
                _storageOffsets[name] = offset + 8;
                offset += 8 + bytes;
            }
            foreach (var name in storages.Keys)
                if (!_storageOffsets.ContainsKey(name))
                    throw KeyEmbedException.Checkpoint(Path, $"storage '{name}' is used by a tensor but missing from the file's storage list; the file is corrupt");
            return root;
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    // Legacy persistent id: ('storage', storage_type, key, location, numel, view_metadata).
    private StorageRef ResolveLegacyStorage(PickleTuple id, Dictionary<string, StorageRef> storages)
    {
        var a = id.Items;
        if (a.Length != 6 || a[0] is not "storage" || a[1] is not PickleGlobal type || a[2] is not string key || a[4] is not long numel)
            throw KeyEmbedException.Checkpoint(Path, "a persistent id in the legacy pickle is not torch's ('storage', type, key, location, numel, view)");
        if (a[5] is not null)
            throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' is a storage view, a pre-0.4 torch feature KeyEmbed does not read; re-save the checkpoint with a current torch");
        if (!SafeUnpickler.TryGetStorageType(type, out var dtype))
            throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' has type '{type.FullName}', which KeyEmbed cannot read");
        if (numel < 0 || numel > _fileLength / TensorConversion.ElementSize(dtype))
            throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' claims {numel} {dtype} elements, more than the {_fileLength}-byte file holds");
        if (storages.TryGetValue(key, out var known))
        {
            if (known.DType != dtype) throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' is used as both {known.DType} and {dtype}");
            return known;
        }
        return storages[key] = new StorageRef(dtype, key, numel);
    }

    private byte[] ReadMember(SafeFileHandle file, ZipDirectory zip, ZipDirectory.Member member, long limit)
    {
        RequireStored(member);
        long start = zip.DataOffset(file, member);
        var bytes = new byte[Math.Min(member.Size, limit)];
        RandomAccess.Read(file, bytes, start);
        return bytes;
    }

    private void RequireStored(ZipDirectory.Member member)
    {
        if (member.Method != 0)
            throw KeyEmbedException.Checkpoint(Path, $"zip member '{member.Name}' is compressed (method {member.Method}); torch.save stores members uncompressed, so re-save the checkpoint with torch.save instead of re-zipping it");
        if (member.CompressedSize != member.Size)
            throw KeyEmbedException.Checkpoint(Path, $"zip member '{member.Name}' is stored but its sizes differ ({member.CompressedSize} vs {member.Size}); the file is corrupt");
    }

    // torch's persistent id: ('storage', storage_type, key, location, numel).
    private StorageRef ResolveStorage(PickleTuple id, SafeFileHandle file, ZipDirectory zip, string archive, Dictionary<string, StorageRef> storages)
    {
        var a = id.Items;
        if (a.Length < 5 || a[0] is not "storage" || a[1] is not PickleGlobal type || a[2] is not string key || a[4] is not long numel)
            throw KeyEmbedException.Checkpoint(Path, "a persistent id in data.pkl is not torch's ('storage', type, key, location, numel)");
        if (!SafeUnpickler.TryGetStorageType(type, out var dtype))
            throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' has type '{type.FullName}', which KeyEmbed cannot read");
        if (storages.TryGetValue(key, out var known))
        {
            if (known.DType != dtype) throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' is used as both {known.DType} and {dtype}");
            return known;
        }
        string memberName = archive + "data/" + key;
        if (!zip.TryGet(memberName, out var member))
            throw KeyEmbedException.Checkpoint(Path, $"data.pkl refers to storage '{key}' but the zip has no member '{memberName}'; the file is incomplete");
        RequireStored(member);
        long elementSize = TensorConversion.ElementSize(dtype);
        if (numel < 0 || numel > member.Size / elementSize)
            throw KeyEmbedException.Checkpoint(Path, $"storage '{key}' claims {numel} {dtype} elements ({numel * elementSize} bytes) but '{memberName}' holds {member.Size} bytes; the file is corrupt");
        _storageOffsets[key] = zip.DataOffset(file, member);
        return storages[key] = new StorageRef(dtype, key, numel);
    }

    private void Collect(PickleDict dict, string prefix, int depth, HashSet<PickleDict> visited)
    {
        if (depth > MaxNesting)
            throw KeyEmbedException.Checkpoint(Path, $"the pickle nests dicts more than {MaxNesting} deep; not a state dict");
        // A dict reachable twice (through the memo) is walked once: this keeps cycles and "billion laughs" pickles linear.
        if (!visited.Add(dict)) return;
        foreach (var (key, value) in dict.Items)
        {
            if (key is not string name) continue;
            string fullName = prefix + name;
            if (value is TensorRef tensor) AddTensor(fullName, tensor);
            else if (value is PickleDict inner) Collect(inner, fullName + ".", depth + 1, visited);
            // Other values (epoch counters, config strings, optimizer lists) are not weights.
        }
    }

    private void AddTensor(string name, TensorRef tensor)
    {
        string Problem(string what) => $"tensor '{name}': {what}";
        if (tensor.Size.Length != tensor.Stride.Length)
            throw KeyEmbedException.Checkpoint(Path, Problem($"has {tensor.Size.Length} sizes but {tensor.Stride.Length} strides"));
        if (tensor.Offset < 0 || tensor.Size.Any(s => s < 0) || tensor.Stride.Any(s => s < 0))
            throw KeyEmbedException.Checkpoint(Path, Problem("has a negative offset, size or stride"));
        long elements = 1;
        long lastElement = tensor.Offset;
        try
        {
            for (int d = 0; d < tensor.Size.Length; d++)
            {
                elements = checked(elements * tensor.Size[d]);
                if (tensor.Size[d] > 0) lastElement = checked(lastElement + (tensor.Size[d] - 1) * tensor.Stride[d]);
            }
        }
        catch (OverflowException)
        {
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", tensor.Size)}] with strides [{string.Join(", ", tensor.Stride)}] is impossibly large; the file is corrupt"));
        }
        if (elements > int.MaxValue / TensorConversion.ElementSize(tensor.Storage.DType))
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", tensor.Size)}] is larger than KeyEmbed reads as one tensor (2 GiB)"));
        if (elements > 0 && lastElement >= tensor.Storage.ElementCount)
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", tensor.Size)}] at offset {tensor.Offset} needs {lastElement + 1} elements of storage '{tensor.Storage.Key}', which holds only {tensor.Storage.ElementCount}; the file is corrupt"));
        // A view that repeats stored elements (stride 0, as expand() saves it, or overlapping strides) could make a
        // file of a few hundred bytes take gigabytes when read; a tensor reads at most as many elements as its storage
        // holds, so what reading allocates stays bounded by the file's size.
        if (elements > tensor.Storage.ElementCount)
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", tensor.Size)}] with strides [{string.Join(", ", tensor.Stride)}] repeats the elements of storage '{tensor.Storage.Key}' ({elements} elements from {tensor.Storage.ElementCount} stored); KeyEmbed does not read a tensor larger than its storage. Save it with .contiguous() (or .clone()) before torch.save"));
        var info = new TensorInfo(name, tensor.Size, tensor.Storage.DType);
        if (!_tensors.TryAdd(name, (tensor, info)))
            throw KeyEmbedException.Checkpoint(Path, Problem("appears twice"));
        _order.Add(info);
    }

    private (TensorRef Tensor, TensorInfo Info) Find(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new KeyEmbedException(ErrorKind.MissingWeight, $"{Path}: no tensor named '{name}'");

    private delegate void BytesAction(ReadOnlySpan<byte> raw);

    private unsafe void WithBytes(TensorRef tensor, TensorInfo info, BytesAction action)
    {
        long count = info.ElementCount;
        if (count == 0) { action([]); return; }
        int elementSize = TensorConversion.ElementSize(info.DType);
        var view = View();
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        try
        {
            byte* storage = pointer + view.PointerOffset + _storageOffsets[tensor.Storage.Key];
            if (IsContiguous(tensor))
            {
                action(new ReadOnlySpan<byte>(storage + tensor.Offset * elementSize, checked((int)(count * elementSize))));
                return;
            }
            // A strided view (e.g. a saved transpose): gather its elements in row-major order.
            var gathered = new byte[count * elementSize];
            var index = new long[tensor.Size.Length];
            for (long i = 0; i < count; i++)
            {
                long source = tensor.Offset;
                for (int d = 0; d < index.Length; d++) source += index[d] * tensor.Stride[d];
                new ReadOnlySpan<byte>(storage + source * elementSize, elementSize).CopyTo(gathered.AsSpan((int)(i * elementSize), elementSize));
                for (int d = index.Length - 1; d >= 0; d--)
                {
                    if (++index[d] < tensor.Size[d]) break;
                    index[d] = 0;
                }
            }
            action(gathered);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    private static bool IsContiguous(TensorRef tensor)
    {
        long expected = 1;
        for (int d = tensor.Size.Length - 1; d >= 0; d--)
        {
            if (tensor.Size[d] != 1 && tensor.Stride[d] != expected) return false;
            expected *= tensor.Size[d];
        }
        return true;
    }

    // A file that shrank after it was validated would make the storage pointers unsafe: LazyFileMap refuses it.
    private MemoryMappedViewAccessor View() => _file.View(_fileLength);

    private static string Describe(object? value) => value switch
    {
        null => "None",
        TensorRef => "single tensor",
        PickleTuple => "tuple",
        List<object?> => "list",
        long or double => "number",
        string => "string",
        bool => "boolean",
        _ => value.GetType().Name,
    };
}
