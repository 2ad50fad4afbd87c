using System.Buffers;

namespace KeyEmbed.Checkpoints.Onnx;

/// <summary>
/// Splits an ONNX model's protobuf bytes into a small copy without the large <c>raw_data</c> of its graph's
/// initializers, and where each of those lies in the original bytes. Parsing the small copy gives every name, shape,
/// type and node without copying the weights (Google.Protobuf copies every bytes field it parses); the reader then
/// reads each weight from the original bytes (a memory-mapped file) only if and when it is asked for. Walks the
/// protobuf wire format: ModelProto field 7 (graph) → GraphProto field 5 (initializer) → TensorProto field 9 (raw_data).
/// </summary>
internal static class OnnxRawDataSkim
{
    private const int ModelGraphField = 7;
    private const int GraphInitializerField = 5;
    private const int TensorRawDataField = 9;

    /// <summary>
    /// The model without raw data of at least <paramref name="threshold"/> bytes; <paramref name="rawData"/> maps the
    /// index of each initializer left without its raw data to the offset and length of that raw data in <paramref name="model"/>.
    /// </summary>
    /// <exception cref="FormatException">The bytes are not well-formed protobuf.</exception>
    public static byte[] Skim(ReadOnlySpan<byte> model, int threshold, out Dictionary<int, (int Offset, int Length)> rawData)
    {
        var found = new Dictionary<int, (int Offset, int Length)>();
        var output = new ArrayBufferWriter<byte>(64 * 1024);
        int initializer = 0;
        CopyFields(model, 0, output, (field, body, bodyOffset, writer) =>
        {
            if (field != ModelGraphField) return false;
            var graph = new ArrayBufferWriter<byte>(64 * 1024);
            CopyFields(body, bodyOffset, graph, (graphField, tensor, tensorOffset, graphWriter) =>
            {
                if (graphField != GraphInitializerField) return false;
                int index = initializer++;
                var skimmed = new ArrayBufferWriter<byte>(256);
                CopyFields(tensor, tensorOffset, skimmed, (tensorField, raw, rawOffset, _) =>
                {
                    if (tensorField != TensorRawDataField || raw.Length < threshold) return false;
                    found[index] = (rawOffset, raw.Length);
                    return true; // dropped from the copy
                });
                WriteLengthDelimited(graphWriter, GraphInitializerField, skimmed.WrittenSpan);
                return true;
            });
            WriteLengthDelimited(writer, ModelGraphField, graph.WrittenSpan);
            return true;
        });
        rawData = found;
        return output.WrittenSpan.ToArray();
    }

    // Copies each field of a message to the writer, except the length-delimited fields `replace` handles (returns true).
    // `offset` is where `message` starts in the whole model, so handlers learn absolute offsets.
    private delegate bool Replace(int field, ReadOnlySpan<byte> body, int bodyOffset, ArrayBufferWriter<byte> writer);

    private static void CopyFields(ReadOnlySpan<byte> message, int offset, ArrayBufferWriter<byte> writer, Replace replace)
    {
        int pos = 0;
        while (pos < message.Length)
        {
            int start = pos;
            ulong tag = ReadVarint(message, ref pos);
            int field = (int)(tag >> 3);
            int wireType = (int)(tag & 7);
            if (field == 0) throw new FormatException($"field number 0 at byte {offset + start}");
            switch (wireType)
            {
                case 0: ReadVarint(message, ref pos); break;
                case 1: Skip(message, ref pos, 8, offset); break;
                case 5: Skip(message, ref pos, 4, offset); break;
                case 2:
                    ulong length = ReadVarint(message, ref pos);
                    if (length > (ulong)(message.Length - pos)) throw new FormatException($"a field of {length} bytes at byte {offset + start} runs past its message");
                    var body = message.Slice(pos, (int)length);
                    if (replace(field, body, offset + pos, writer))
                    {
                        pos += (int)length;
                        continue;
                    }
                    pos += (int)length;
                    break;
                default: throw new FormatException($"wire type {wireType} at byte {offset + start} is not used by ONNX");
            }
            writer.Write(message[start..pos]);
        }
    }

    private static void Skip(ReadOnlySpan<byte> message, ref int pos, int count, int offset)
    {
        if (message.Length - pos < count) throw new FormatException($"a fixed-size field at byte {offset + pos} runs past its message");
        pos += count;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> bytes, ref int pos)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            if (pos >= bytes.Length) throw new FormatException("a varint runs past its message");
            byte b = bytes[pos++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
        throw new FormatException("a varint longer than 10 bytes");
    }

    private static void WriteLengthDelimited(ArrayBufferWriter<byte> writer, int field, ReadOnlySpan<byte> body)
    {
        WriteVarint(writer, ((ulong)field << 3) | 2);
        WriteVarint(writer, (ulong)body.Length);
        writer.Write(body);
    }

    private static void WriteVarint(ArrayBufferWriter<byte> writer, ulong value)
    {
        var span = writer.GetSpan(10);
        int n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        writer.Advance(n);
    }
}
