using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KeyEmbed.Embedding;

/// <summary>File formats <c>keyembed embed</c> writes.</summary>
internal enum VectorFileFormat
{
    /// <summary>One JSON object: metadata, then <c>"data"</c>, one row object per line.</summary>
    Json,
    /// <summary>A header line, then one row per line: text, (scale,) values.</summary>
    Csv,
    /// <summary>NumPy <c>.npy</c>: float32, int8 or uint8 matrix [rows, dimensions].</summary>
    Npy,
}

/// <summary>
/// Writes embedding rows one at a time, so a large input never sits in memory whole. Each row is written in the
/// precision the writer was made for: float32 values, an <see cref="Int8Vector"/>, or packed binary bytes.
/// </summary>
internal interface IVectorWriter : IDisposable
{
    /// <summary>Rows written so far.</summary>
    long Rows { get; }

    /// <summary>Writes a float32 row.</summary>
    void Write(string? text, ReadOnlySpan<float> vector);

    /// <summary>Writes an int8 row with its scale.</summary>
    void Write(string? text, Int8Vector vector);

    /// <summary>Writes a packed binary row.</summary>
    void Write(string? text, ReadOnlySpan<byte> packedBits);
}

/// <summary>Makes the writer for a format.</summary>
internal static class VectorWriters
{
    /// <summary>Parses <c>json</c>, <c>csv</c> or <c>npy</c>.</summary>
    public static VectorFileFormat ParseFormat(string text) => text.Trim().ToLowerInvariant() switch
    {
        "json" => VectorFileFormat.Json,
        "csv" => VectorFileFormat.Csv,
        "npy" => VectorFileFormat.Npy,
        _ => throw KeyEmbedException.Input($"format: '{text}' is not one of json, csv, npy"),
    };

    /// <summary>
    /// A writer for <paramref name="format"/> over <paramref name="stream"/>. <paramref name="dimensions"/> is the
    /// number of values per row (bytes per row for binary). <paramref name="metadata"/> goes into the JSON object
    /// before <c>"data"</c> (ignored by CSV and npy). For npy with an unknown row count the stream must be seekable;
    /// int8 npy files hold the bytes only: read the scales from <see cref="NpyVectorWriter.Scales"/>.
    /// </summary>
    public static IVectorWriter Create(VectorFileFormat format, Stream stream, int dimensions, VectorPrecision precision,
        IReadOnlyList<KeyValuePair<string, object?>>? metadata = null, long? rows = null, bool leaveOpen = false) => format switch
    {
        VectorFileFormat.Json => new JsonVectorWriter(stream, metadata, leaveOpen),
        VectorFileFormat.Csv => new CsvVectorWriter(stream, dimensions, precision, leaveOpen),
        VectorFileFormat.Npy => new NpyVectorWriter(stream, dimensions, precision, rows, leaveOpen),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };
}

/// <summary>
/// <c>{ "key": value, …, "data": [ {"index": 0, "text": "…", "embedding": […]}, … ] }</c>, one row object per line.
/// Int8 rows add <c>"scale"</c>; binary rows give the packed bytes as integers.
/// </summary>
internal sealed class JsonVectorWriter : IVectorWriter
{
    private static readonly byte[] RowSeparator = ",\n"u8.ToArray();
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private bool _disposed;

    public JsonVectorWriter(Stream stream, IReadOnlyList<KeyValuePair<string, object?>>? metadata, bool leaveOpen = false)
    {
        _stream = stream;
        _leaveOpen = leaveOpen;
        _stream.Write("{"u8);
        foreach (var (key, value) in metadata ?? [])
        {
            using (var json = new Utf8JsonWriter(_stream))
            {
                json.WriteStringValue(key);
                json.Flush();
            }
            _stream.Write(": "u8);
            using (var json = new Utf8JsonWriter(_stream))
            {
                WriteValue(json, value);
                json.Flush();
            }
            _stream.Write(",\n"u8);
        }
        _stream.Write("\"data\": [\n"u8);
    }

    public long Rows { get; private set; }

    public void Write(string? text, ReadOnlySpan<float> vector)
    {
        using var json = BeginRow(text);
        foreach (float x in vector) json.WriteNumberValue(x);
        EndRow(json);
    }

    public void Write(string? text, Int8Vector vector)
    {
        using var json = BeginRow(text);
        foreach (sbyte x in vector.Values) json.WriteNumberValue(x);
        json.WriteEndArray();
        json.WriteNumber("scale", vector.Scale);
        json.WriteEndObject();
        Finish(json);
    }

    public void Write(string? text, ReadOnlySpan<byte> packedBits)
    {
        using var json = BeginRow(text);
        foreach (byte x in packedBits) json.WriteNumberValue(x);
        EndRow(json);
    }

    private Utf8JsonWriter BeginRow(string? text)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Rows > 0) _stream.Write(RowSeparator);
        var json = new Utf8JsonWriter(_stream);
        json.WriteStartObject();
        json.WriteNumber("index", Rows);
        if (text != null) json.WriteString("text", text);
        json.WriteStartArray("embedding");
        return json;
    }

    private void EndRow(Utf8JsonWriter json)
    {
        json.WriteEndArray();
        json.WriteEndObject();
        Finish(json);
    }

    private void Finish(Utf8JsonWriter json)
    {
        json.Flush();
        Rows++;
    }

    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case int i: json.WriteNumberValue(i); break;
            case long l: json.WriteNumberValue(l); break;
            case float f: json.WriteNumberValue(f); break;
            case double d: json.WriteNumberValue(d); break;
            case IEnumerable<int> ints: json.WriteStartArray(); foreach (int i in ints) json.WriteNumberValue(i); json.WriteEndArray(); break;
            case IEnumerable<string> strings: json.WriteStartArray(); foreach (var s in strings) json.WriteStringValue(s); json.WriteEndArray(); break;
            default: json.WriteStringValue(Convert.ToString(value, CultureInfo.InvariantCulture)); break;
        }
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            _stream.Write("\n]}\n"u8);
            _stream.Flush();
        }
        finally
        {
            if (!_leaveOpen) _stream.Dispose();
        }
    }
}

/// <summary>
/// RFC 4180 CSV: header <c>text,(scale,)d0,d1,…</c>, then one row per vector with the text quoted when needed.
/// Floats use the invariant culture's shortest round-trip form.
/// </summary>
internal sealed class CsvVectorWriter : IVectorWriter
{
    private readonly StreamWriter _writer;
    private readonly int _dimensions;
    private readonly VectorPrecision _precision;
    private bool _disposed;

    public CsvVectorWriter(Stream stream, int dimensions, VectorPrecision precision, bool leaveOpen = false)
    {
        _writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen) { NewLine = "\n" };
        _dimensions = dimensions;
        _precision = precision;
        var header = new StringBuilder("text");
        if (precision == VectorPrecision.Int8) header.Append(",scale");
        for (int i = 0; i < dimensions; i++) header.Append(",d").Append(i.ToString(CultureInfo.InvariantCulture));
        _writer.WriteLine(header);
    }

    public long Rows { get; private set; }

    public void Write(string? text, ReadOnlySpan<float> vector)
    {
        BeginRow(text, vector.Length, VectorPrecision.Float32);
        foreach (float x in vector) { _writer.Write(','); _writer.Write(x.ToString(CultureInfo.InvariantCulture)); }
        EndRow();
    }

    public void Write(string? text, Int8Vector vector)
    {
        BeginRow(text, vector.Values.Length, VectorPrecision.Int8);
        _writer.Write(',');
        _writer.Write(vector.Scale.ToString(CultureInfo.InvariantCulture));
        foreach (sbyte x in vector.Values) { _writer.Write(','); _writer.Write(x.ToString(CultureInfo.InvariantCulture)); }
        EndRow();
    }

    public void Write(string? text, ReadOnlySpan<byte> packedBits)
    {
        BeginRow(text, packedBits.Length, VectorPrecision.Binary);
        foreach (byte x in packedBits) { _writer.Write(','); _writer.Write(x.ToString(CultureInfo.InvariantCulture)); }
        EndRow();
    }

    /// <summary>Quotes a field when it holds a comma, quote or line break (RFC 4180), doubling inner quotes.</summary>
    internal static string Field(string text) =>
        text.AsSpan().IndexOfAny(",\"\r\n") < 0 ? text : "\"" + text.Replace("\"", "\"\"") + "\"";

    private void BeginRow(string? text, int length, VectorPrecision precision)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (precision != _precision) throw new InvalidOperationException($"this CSV holds {_precision} rows, not {precision}");
        if (length != _dimensions) throw new ArgumentException($"row has {length} values; the header has {_dimensions}");
        _writer.Write(Field(text ?? ""));
    }

    private void EndRow()
    {
        _writer.WriteLine();
        Rows++;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _writer.Dispose();
    }
}

/// <summary>
/// <c>.npy</c> rows: float32 as <c>&lt;f4</c>, int8 as <c>|i1</c> (scales kept in <see cref="Scales"/>, 4 bytes a
/// row, for a companion file), binary as <c>|u1</c>. Texts are not stored.
/// </summary>
internal sealed class NpyVectorWriter(Stream stream, int dimensions, VectorPrecision precision, long? rows, bool leaveOpen = false) : IVectorWriter
{
    private readonly NpyWriter _npy = new(stream, dimensions,
        precision switch { VectorPrecision.Int8 => NpyDType.Int8, VectorPrecision.Binary => NpyDType.UInt8, _ => NpyDType.Float32 },
        rows, leaveOpen);
    private readonly List<float> _scales = [];

    /// <summary>The int8 rows' scales, in row order (empty for other precisions).</summary>
    public IReadOnlyList<float> Scales => _scales;

    public long Rows => _npy.Rows;

    public void Write(string? text, ReadOnlySpan<float> vector) => _npy.WriteRow(vector);

    public void Write(string? text, Int8Vector vector)
    {
        _npy.WriteRow(vector.Values);
        _scales.Add(vector.Scale);
    }

    public void Write(string? text, ReadOnlySpan<byte> packedBits) => _npy.WriteRow(packedBits);

    public void Dispose() => _npy.Dispose();
}
