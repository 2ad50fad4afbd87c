using System.Buffers.Binary;
using System.Numerics;

namespace KeyEmbed.Checkpoints.TensorBundle;

/// <summary>
/// CRC-32C (Castagnoli), the checksum LevelDB tables and TensorBundle entries use, and LevelDB's "mask"
/// (stored checksums are rotated and offset so that a CRC over data that itself holds CRCs stays robust).
/// </summary>
internal static class Crc32C
{
    private const uint MaskDelta = 0xa282ead8;

    public static uint Compute(ReadOnlySpan<byte> data) => Extend(0, data);

    /// <summary>Continues a CRC-32C over more bytes (BitOperations.Crc32C uses the CPU's instruction when present).</summary>
    public static uint Extend(uint crc, ReadOnlySpan<byte> data)
    {
        uint state = ~crc;
        while (data.Length >= 8)
        {
            state = BitOperations.Crc32C(state, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }
        foreach (byte b in data) state = BitOperations.Crc32C(state, b);
        return ~state;
    }

    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + MaskDelta;

    public static uint Unmask(uint masked)
    {
        uint rotated = masked - MaskDelta;
        return (rotated >> 17) | (rotated << 15);
    }
}
