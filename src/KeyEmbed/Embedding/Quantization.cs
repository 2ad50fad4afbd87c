using System.Numerics;
using System.Numerics.Tensors;

namespace KeyEmbed.Embedding;

/// <summary>An int8-quantized vector: <c>value[i] ≈ Values[i] × Scale</c>.</summary>
/// <param name="Values">Signed bytes in -127..127.</param>
/// <param name="Scale">The per-vector scale (max |value| / 127; 0 for a zero vector).</param>
public sealed record Int8Vector(sbyte[] Values, float Scale)
{
    /// <summary>The float32 vector these bytes stand for.</summary>
    public float[] ToFloat32()
    {
        var result = new float[Values.Length];
        for (int i = 0; i < Values.Length; i++) result[i] = Values[i] * Scale;
        return result;
    }
}

/// <summary>
/// Storage forms for vectors: int8 with a symmetric per-vector scale (error per value at most scale / 2), and
/// binary sign bits packed eight to a byte (the "ubinary" layout of NumPy's <c>packbits</c>: first dimension in the
/// high bit of byte 0, the last byte zero-padded).
/// </summary>
public static class Quantization
{
    /// <summary>Symmetric int8: scale = max |x| / 127, byte = round(x / scale).</summary>
    public static Int8Vector ToInt8(ReadOnlySpan<float> vector)
    {
        float maxAbs = vector.IsEmpty ? 0f : TensorPrimitives.MaxMagnitude(vector);
        maxAbs = Math.Abs(maxAbs);
        var values = new sbyte[vector.Length];
        if (maxAbs == 0 || !float.IsFinite(maxAbs)) return new Int8Vector(values, 0f);
        float scale = maxAbs / 127f;
        for (int i = 0; i < vector.Length; i++)
            values[i] = (sbyte)Math.Clamp(MathF.Round(vector[i] / scale, MidpointRounding.AwayFromZero), -127f, 127f);
        return new Int8Vector(values, scale);
    }

    /// <summary>Sign bits (1 when the value is &gt; 0), packed MSB-first; length ceil(n / 8).</summary>
    public static byte[] ToBinary(ReadOnlySpan<float> vector)
    {
        var packed = new byte[(vector.Length + 7) / 8];
        for (int i = 0; i < vector.Length; i++)
            if (vector[i] > 0) packed[i >> 3] |= (byte)(0x80 >> (i & 7));
        return packed;
    }

    /// <summary>Unpacks <paramref name="dimensions"/> sign bits back to ±1 values.</summary>
    public static float[] FromBinary(ReadOnlySpan<byte> packed, int dimensions)
    {
        if (dimensions > packed.Length * 8) throw new ArgumentOutOfRangeException(nameof(dimensions));
        var result = new float[dimensions];
        for (int i = 0; i < dimensions; i++) result[i] = (packed[i >> 3] & (0x80 >> (i & 7))) != 0 ? 1f : -1f;
        return result;
    }

    /// <summary>Number of differing bits between two packed vectors of the same length.</summary>
    public static int HammingDistance(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"packed vectors differ in length: {a.Length} and {b.Length}");
        int distance = 0;
        for (int i = 0; i < a.Length; i++) distance += BitOperations.PopCount((uint)(a[i] ^ b[i]));
        return distance;
    }
}
