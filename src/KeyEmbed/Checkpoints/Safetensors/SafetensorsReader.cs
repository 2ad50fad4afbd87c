using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace KeyEmbed.Checkpoints.Safetensors;

/// <summary>
/// Reads Hugging Face's safetensors format (8-byte little-endian header length, a JSON header, then raw data),
/// memory-mapped so that tensors are read only when asked for.
/// </summary>
public sealed class SafetensorsReader : ITensorSource
{
    // A real header is a few hundred KB at most; anything larger is a corrupt length field.
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly Dictionary<string, (TensorInfo Info, long Begin, long End)> _entries = new(StringComparer.Ordinal);
    private readonly List<TensorInfo> _order = [];
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataStart;

    /// <summary>Opens a safetensors file and validates its header against the file size.</summary>
    public SafetensorsReader(string path)
    {
        Path = path;
        if (!File.Exists(path)) throw KeyEmbedException.Checkpoint(path, "file not found");
        long fileLength = FileLength.Of(path);
        if (fileLength < 8) throw KeyEmbedException.Checkpoint(path, $"too short for a safetensors file ({fileLength} bytes; the header length alone takes 8)");

        byte[] header;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
            if (headerLength > (ulong)MaxHeaderBytes || (long)headerLength > fileLength - 8)
                throw KeyEmbedException.Checkpoint(path, $"header claims {headerLength} bytes but the file holds {fileLength - 8} after the length field; the file is truncated or not safetensors");
            header = new byte[headerLength];
            stream.ReadExactly(header);
        }
        _dataStart = 8 + header.Length;
        long dataLength = fileLength - _dataStart;
        ParseHeader(header, dataLength);

        if (fileLength > 0)
        {
            _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
    }

    /// <inheritdoc />
    public string Format => "safetensors";

    /// <inheritdoc />
    public string Path { get; }

    /// <summary>The header's <c>__metadata__</c> map (string to string), empty when absent.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public IReadOnlyList<TensorInfo> Tensors => _order;

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
        var (info, raw) = ReadRaw(name);
        if (!TensorConversion.IsFloating(info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {info.DType}, not a floating type");
        var result = new float[info.ElementCount];
        TensorConversion.ToFloat32(raw, info.DType, result);
        return result;
    }

    /// <inheritdoc />
    public long[] ReadInt64(string name)
    {
        var (info, raw) = ReadRaw(name);
        if (TensorConversion.IsFloating(info.DType))
            throw KeyEmbedException.Checkpoint(Path, $"tensor '{name}' is {info.DType}, not an integer type");
        var result = new long[info.ElementCount];
        TensorConversion.ToInt64(raw, info.DType, result);
        return result;
    }

    private (TensorInfo Info, byte[] Raw) ReadRaw(string name)
    {
        if (!_entries.TryGetValue(name, out var e))
            throw new KeyEmbedException(ErrorKind.MissingWeight, $"{Path}: no tensor named '{name}'");
        var raw = new byte[e.End - e.Begin];
        _view!.ReadArray(_dataStart + e.Begin, raw, 0, raw.Length);
        return (e.Info, raw);
    }

    private void ParseHeader(byte[] header, long dataLength)
    {
        JsonDocument doc;
        try { doc = KeyEmbed.IO.StrictJson.Parse(header); }
        catch (JsonException e) { throw KeyEmbedException.Checkpoint(Path, $"header is not valid JSON ({e.Message}); not a safetensors file?", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Checkpoint(Path, "header is not a JSON object; not a safetensors file?");
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (property.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in property.Value.EnumerateObject())
                            metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String ? m.Value.GetString()! : m.Value.GetRawText();
                    Metadata = metadata;
                    continue;
                }
                var entry = ParseEntry(property.Name, property.Value, dataLength);
                _entries[property.Name] = entry;
                _order.Add(entry.Info);
            }
        }
    }

    private (TensorInfo Info, long Begin, long End) ParseEntry(string name, JsonElement value, long dataLength)
    {
        string Problem(string what) => $"tensor '{name}': {what}";
        if (value.ValueKind != JsonValueKind.Object
            || !value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String
            || !value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array
            || !value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw KeyEmbedException.Checkpoint(Path, Problem("header entry needs dtype, shape and data_offsets [begin, end]"));

        var dtype = dtypeElement.GetString() switch
        {
            "F32" => TensorDType.F32,
            "F16" => TensorDType.F16,
            "BF16" => TensorDType.BF16,
            "F64" => TensorDType.F64,
            "I64" => TensorDType.I64,
            "I32" => TensorDType.I32,
            "I8" => TensorDType.I8,
            "U8" or "BOOL" => TensorDType.U8,
            var other => throw KeyEmbedException.Checkpoint(Path, Problem($"dtype '{other}' is not supported (F32, F16, BF16, F64, I64, I32, I8, U8, BOOL)")),
        };
        var shape = new long[shapeElement.GetArrayLength()];
        int i = 0;
        long elements = 1;
        foreach (var d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0)
                throw KeyEmbedException.Checkpoint(Path, Problem("shape must hold non-negative integers"));
            shape[i++] = dim;
            elements = dim == 0 ? 0 : (elements > long.MaxValue / dim ? throw KeyEmbedException.Checkpoint(Path, Problem("shape is impossibly large")) : elements * dim);
        }
        if (!offsetsElement[0].TryGetInt64(out long begin) || !offsetsElement[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw KeyEmbedException.Checkpoint(Path, Problem("data_offsets must be two integers 0 <= begin <= end"));
        if (end > dataLength)
            throw KeyEmbedException.Checkpoint(Path, Problem($"data ends at byte {end} of the data section but the file holds only {dataLength}; the file is truncated"));
        long expected = elements * TensorConversion.ElementSize(dtype);
        if (end - begin != expected)
            throw KeyEmbedException.Checkpoint(Path, Problem($"shape [{string.Join(", ", shape)}] of {dtype} needs {expected} bytes but data_offsets give {end - begin}"));
        return (new TensorInfo(name, shape, dtype), begin, end);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }
}
