using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace KeyEmbed.Checkpoints.Safetensors;

/// <summary>Writes float32 and int64 tensors to a safetensors file (used by <c>hidden-states</c> and converters).</summary>
public sealed class SafetensorsWriter
{
    private readonly List<(string Name, string DType, long[] Shape, byte[] Data)> _tensors = [];
    private readonly Dictionary<string, string> _metadata = new(StringComparer.Ordinal);

    /// <summary>Adds a float32 tensor.</summary>
    public SafetensorsWriter Add(string name, long[] shape, ReadOnlySpan<float> data)
    {
        _tensors.Add((name, "F32", shape, MemoryMarshal.AsBytes(data).ToArray()));
        return this;
    }

    /// <summary>Adds an int64 tensor.</summary>
    public SafetensorsWriter Add(string name, long[] shape, ReadOnlySpan<long> data)
    {
        _tensors.Add((name, "I64", shape, MemoryMarshal.AsBytes(data).ToArray()));
        return this;
    }

    /// <summary>Adds a string entry to the header's <c>__metadata__</c>.</summary>
    public SafetensorsWriter AddMetadata(string key, string value)
    {
        _metadata[key] = value;
        return this;
    }

    /// <summary>Writes the file (little-endian host assumed, as everywhere .NET runs today).</summary>
    public void Save(string path)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (_metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in _metadata) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in _tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        // Pad the header with spaces to an 8-byte boundary, as the reference writer does.
        while (buffer.Length % 8 != 0) buffer.WriteByte((byte)' ');
        // Written to a temporary file and renamed when complete (AtomicFile), so the path never holds half a file.
        KeyEmbed.IO.AtomicFile.Write(path, file =>
        {
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)buffer.Length);
            file.Write(length);
            buffer.Position = 0;
            buffer.CopyTo(file);
            foreach (var t in _tensors) file.Write(t.Data);
        }, $"{path}: cannot write");
    }
}
