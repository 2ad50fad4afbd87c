using System.Buffers.Binary;

namespace KeyEmbed.Checkpoints;

/// <summary>Element sizes and little-endian conversions shared by the readers.</summary>
internal static class TensorConversion
{
    public static int ElementSize(TensorDType dtype) => dtype switch
    {
        TensorDType.F32 or TensorDType.I32 => 4,
        TensorDType.F16 or TensorDType.BF16 => 2,
        TensorDType.F64 or TensorDType.I64 => 8,
        TensorDType.I8 or TensorDType.U8 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    public static bool IsFloating(TensorDType dtype) =>
        dtype is TensorDType.F32 or TensorDType.F16 or TensorDType.BF16 or TensorDType.F64;

    /// <summary>Converts little-endian raw bytes of a floating dtype to float32.</summary>
    public static void ToFloat32(ReadOnlySpan<byte> raw, TensorDType dtype, Span<float> destination)
    {
        switch (dtype)
        {
            case TensorDType.F32 when BitConverter.IsLittleEndian:
                // Raw little-endian float32 is already the host layout: one block copy.
                System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(raw[..(destination.Length * 4)]).CopyTo(destination);
                break;
            case TensorDType.F32:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4, 4));
                break;
            case TensorDType.F16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(raw.Slice(i * 2, 2));
                break;
            case TensorDType.BF16:
                // bfloat16 is the upper half of a float32.
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(raw.Slice(i * 2, 2)) << 16);
                break;
            case TensorDType.F64:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(raw.Slice(i * 8, 8));
                break;
            default:
                throw new ArgumentException($"{dtype} is not a floating type", nameof(dtype));
        }
    }

    /// <summary>Converts little-endian raw bytes of an integer dtype to int64.</summary>
    public static void ToInt64(ReadOnlySpan<byte> raw, TensorDType dtype, Span<long> destination)
    {
        for (int i = 0; i < destination.Length; i++)
        {
            destination[i] = dtype switch
            {
                TensorDType.I64 => BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(i * 8, 8)),
                TensorDType.I32 => BinaryPrimitives.ReadInt32LittleEndian(raw.Slice(i * 4, 4)),
                TensorDType.I8 => (sbyte)raw[i],
                TensorDType.U8 => raw[i],
                _ => throw new ArgumentException($"{dtype} is not an integer type", nameof(dtype)),
            };
        }
    }
}
