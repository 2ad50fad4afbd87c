using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using KeyEmbed.Runtime;

namespace KeyEmbed.Embedding;

/// <summary>Element types KeyEmbed writes to and reads from <c>.npy</c> files.</summary>
public enum NpyDType
{
    /// <summary><c>&lt;f4</c>, little-endian float32.</summary>
    Float32,
    /// <summary><c>|i1</c>, signed bytes (int8-quantized vectors).</summary>
    Int8,
    /// <summary><c>|u1</c>, unsigned bytes (packed binary vectors).</summary>
    UInt8,
}

/// <summary>
/// NumPy's <c>.npy</c> format (version 1.0 to write; 1.0, 2.0 and 3.0 to read): the magic <c>\x93NUMPY</c>, a
/// version, a header length, a Python-literal header dict (<c>descr</c>, <c>fortran_order</c>, <c>shape</c>) padded
/// with spaces to a 64-byte boundary, then the raw C-order data.
/// </summary>
public static partial class NpyFile
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>The fixed header size KeyEmbed writes: room for any 2-D shape, so it can be patched in place.</summary>
    internal const int HeaderBytes = 128;

    /// <summary>Writes a float32 matrix [rows, columns] (every row the same width).</summary>
    public static void Write(string path, IReadOnlyList<float[]> rows, int? columns = null)
    {
        int width = columns ?? (rows.Count > 0 ? rows[0].Length : 0);
        using var writer = new NpyWriter(File.Create(path), width, NpyDType.Float32, rows.Count);
        foreach (var row in rows) writer.WriteRow(row);
    }

    /// <summary>Writes a 1-D float32 array (e.g. the per-row scales of int8 vectors).</summary>
    public static void WriteVector(Stream stream, ReadOnlySpan<float> values)
    {
        stream.Write(Header(NpyDType.Float32, $"({values.Length},)"));
        stream.Write(MemoryMarshal.AsBytes(values));
    }

    /// <summary>
    /// Reads an array of float32, float64, int8 or uint8 elements, C order, as float32 with its shape. Throws
    /// <see cref="KeyEmbedException"/> naming the file for anything else.
    /// </summary>
    public static DenseTensor<float> Read(string path)
    {
        if (!File.Exists(path)) throw KeyEmbedException.Input($"{path}: file not found");
        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        if (stream.ReadAtLeast(prefix, 8, throwOnEndOfStream: false) < 8 || !prefix[..6].SequenceEqual(Magic))
            throw KeyEmbedException.Input($"{path}: not a .npy file (it does not start with \\x93NUMPY)");
        int major = prefix[6];
        long headerLength;
        Span<byte> len = stackalloc byte[major == 1 ? 2 : 4];
        if (major is 1 or 2 or 3 && stream.ReadAtLeast(len, len.Length, throwOnEndOfStream: false) < len.Length)
            throw KeyEmbedException.Input($"{path}: the file ends inside the .npy preamble; it is truncated");
        if (major == 1) headerLength = BinaryPrimitives.ReadUInt16LittleEndian(len);
        else if (major is 2 or 3) headerLength = BinaryPrimitives.ReadUInt32LittleEndian(len);
        else throw KeyEmbedException.Input($"{path}: .npy version {major}.{prefix[7]} is not supported (1.0, 2.0, 3.0 are)");
        if (headerLength > stream.Length - stream.Position)
            throw KeyEmbedException.Input($"{path}: header claims {headerLength} bytes but the file is shorter; it is truncated");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);
        string header = (major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetString(headerBytes);

        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shapeMatch = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shapeMatch.Success)
            throw KeyEmbedException.Input($"{path}: header lacks descr, fortran_order or shape: {header.Trim()}");
        if (fortran.Groups[1].Value == "True")
            throw KeyEmbedException.Input($"{path}: Fortran-order arrays are not supported; save it in C order (numpy.ascontiguousarray)");
        var dims = shapeMatch.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var shape = new long[dims.Length];
        long count = 1;
        for (int i = 0; i < dims.Length; i++)
        {
            // Found by fuzzing (fuzz/corpus/npy): a shape entry that is not a number, or a product that overflows.
            if (!long.TryParse(dims[i], NumberStyles.None, CultureInfo.InvariantCulture, out shape[i]))
                throw KeyEmbedException.Input($"{path}: shape entry '{dims[i]}' is not a non-negative integer: {header.Trim()}");
            if (shape[i] != 0 && count > Array.MaxLength / shape[i])
                throw KeyEmbedException.Input($"{path}: shape ({string.Join(", ", dims)}) has more elements than an array can hold");
            count *= shape[i];
        }

        string type = descr.Groups[1].Value;
        int elementSize = type switch { "<f4" => 4, "<f8" => 8, "|i1" or "<i1" => 1, "|u1" or "<u1" => 1, _ => 0 };
        if (elementSize == 0)
            throw KeyEmbedException.Input($"{path}: element type '{type}' is not supported (little-endian float32 '<f4', float64 '<f8', int8, uint8 are)");
        long dataBytes = count * elementSize;
        if (stream.Length - stream.Position < dataBytes)
            throw KeyEmbedException.Input($"{path}: shape ({string.Join(", ", shape)}) needs {dataBytes} data bytes but only {stream.Length - stream.Position} follow the header; the file is truncated");

        var raw = new byte[dataBytes];
        stream.ReadExactly(raw);
        var data = new float[count];
        switch (type)
        {
            case "<f4": MemoryMarshal.Cast<byte, float>(raw).CopyTo(data); break;
            case "<f8":
                var doubles = MemoryMarshal.Cast<byte, double>(raw);
                for (long i = 0; i < count; i++) data[i] = (float)doubles[(int)i];
                break;
            case "|i1" or "<i1": for (long i = 0; i < count; i++) data[i] = (sbyte)raw[i]; break;
            default: for (long i = 0; i < count; i++) data[i] = raw[i]; break;
        }
        return new DenseTensor<float>(data, shape);
    }

    /// <summary>A version 1.0 header for the given type and shape literal, padded to <see cref="HeaderBytes"/>.</summary>
    internal static byte[] Header(NpyDType type, string shapeLiteral)
    {
        string descr = type switch { NpyDType.Float32 => "<f4", NpyDType.Int8 => "|i1", _ => "|u1" };
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shapeLiteral}, }}";
        int total = Math.Max(HeaderBytes, (10 + dict.Length + 1 + 63) / 64 * 64);
        var bytes = new byte[total];
        Magic.CopyTo(bytes, 0);
        bytes[6] = 1;
        bytes[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)(total - 10));
        Encoding.ASCII.GetBytes(dict.PadRight(total - 11)).CopyTo(bytes, 10);
        bytes[^1] = (byte)'\n';
        return bytes;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}

/// <summary>
/// Streams rows of a 2-D <c>.npy</c> array to a stream. When the row count is not known up front the stream must be
/// seekable: the fixed-size header is rewritten with the final count on dispose.
/// </summary>
public sealed class NpyWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly long? _declaredRows;
    private readonly long _start;
    private bool _disposed;

    /// <summary>Starts an array of <paramref name="columns"/>-wide rows on <paramref name="stream"/>.</summary>
    /// <param name="stream">Where the file goes; seekable when <paramref name="rows"/> is null.</param>
    /// <param name="columns">Width of every row.</param>
    /// <param name="type">Element type.</param>
    /// <param name="rows">The row count when known up front; null patches the header on dispose.</param>
    /// <param name="leaveOpen">Whether disposing the writer leaves <paramref name="stream"/> open.</param>
    public NpyWriter(Stream stream, int columns, NpyDType type = NpyDType.Float32, long? rows = null, bool leaveOpen = false)
    {
        if (rows == null && !stream.CanSeek)
            throw new ArgumentException("an unknown row count needs a seekable stream (the header is patched at the end)", nameof(stream));
        _stream = stream;
        _leaveOpen = leaveOpen;
        _declaredRows = rows;
        Columns = columns;
        Type = type;
        _start = stream.CanSeek ? stream.Position : 0;
        _stream.Write(NpyFile.Header(type, ShapeLiteral(rows ?? 0)));
    }

    /// <summary>Width of every row.</summary>
    public int Columns { get; }

    /// <summary>Element type of the file.</summary>
    public NpyDType Type { get; }

    /// <summary>Rows written so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Appends one float32 row.</summary>
    public void WriteRow(ReadOnlySpan<float> row) => Append(MemoryMarshal.AsBytes(row), row.Length, NpyDType.Float32);

    /// <summary>Appends one int8 row.</summary>
    public void WriteRow(ReadOnlySpan<sbyte> row) => Append(MemoryMarshal.AsBytes(row), row.Length, NpyDType.Int8);

    /// <summary>Appends one uint8 row (packed binary).</summary>
    public void WriteRow(ReadOnlySpan<byte> row) => Append(row, row.Length, NpyDType.UInt8);

    private void Append(ReadOnlySpan<byte> bytes, int length, NpyDType type)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (type != Type) throw new InvalidOperationException($"this .npy file holds {Type}, not {type}");
        if (length != Columns) throw new ArgumentException($"row has {length} values; the file's rows have {Columns}");
        _stream.Write(bytes);
        Rows++;
    }

    /// <summary>Finishes the file: patches the header's row count (or checks it against the declared one) and closes the stream unless left open.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            if (_declaredRows is { } declared && declared != Rows)
                throw new InvalidOperationException($"declared {declared} rows but wrote {Rows}");
            if (_declaredRows == null)
            {
                long end = _stream.Position;
                _stream.Position = _start;
                _stream.Write(NpyFile.Header(Type, ShapeLiteral(Rows)));
                _stream.Position = end;
            }
            _stream.Flush();
        }
        finally
        {
            if (!_leaveOpen) _stream.Dispose();
        }
    }

    private string ShapeLiteral(long rows) => $"({rows}, {Columns})";
}
