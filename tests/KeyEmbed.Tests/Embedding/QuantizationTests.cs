using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class QuantizationTests
{
    private static float[] RandomVector(int seed, int n)
    {
        var rng = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1))];
    }

    [Fact]
    public void Int8_round_trip_errs_by_at_most_half_a_step_and_keeps_cosine()
    {
        var v = RandomVector(1, 384);
        var q = Quantization.ToInt8(v);
        float maxAbs = v.Max(Math.Abs);
        Assert.Equal(maxAbs / 127f, q.Scale, 1e-7f);
        Assert.Contains(q.Values, x => Math.Abs((int)x) == 127);
        var back = q.ToFloat32();
        for (int i = 0; i < v.Length; i++) Assert.True(Math.Abs(back[i] - v[i]) <= q.Scale / 2 + 1e-7, $"dimension {i}");
        Assert.True(VectorMath.Cosine(v, back) > 0.999);
    }

    [Fact]
    public void Int8_of_a_zero_vector_is_zeros_with_scale_zero()
    {
        var q = Quantization.ToInt8(new float[5]);
        Assert.Equal(0f, q.Scale);
        Assert.All(q.Values, x => Assert.Equal(0, x));
    }

    [Fact]
    public void Binary_packs_sign_bits_first_dimension_in_the_high_bit()
    {
        float[] v = [0.5f, -1f, 2f, 0f, -0.1f, 3f, 1f, -2f, 0.7f, -0.2f];
        var packed = Quantization.ToBinary(v);
        Assert.Equal([0b1010_0110, 0b1000_0000], packed);
        Assert.Equal([1f, -1f, 1f, -1f, -1f, 1f, 1f, -1f, 1f, -1f], Quantization.FromBinary(packed, v.Length));
    }

    [Fact]
    public void Hamming_distance_counts_differing_signs()
    {
        var a = RandomVector(2, 100);
        var b = (float[])a.Clone();
        b[3] = -b[3];
        b[97] = -b[97];
        Assert.Equal(2, Quantization.HammingDistance(Quantization.ToBinary(a), Quantization.ToBinary(b)));
    }

    [Fact]
    public void Truncation_then_normalization_gives_a_unit_prefix()
    {
        float[] v = [3f, 4f, 12f];
        var finished = VectorMath.Finish((float[])v.Clone(), 2, normalize: true);
        Assert.Equal([0.6f, 0.8f], finished);
        Assert.Equal([3f, 4f], VectorMath.Finish((float[])v.Clone(), 2, normalize: false));
        var full = VectorMath.Finish((float[])v.Clone(), 3, normalize: true);
        Assert.Equal(1.0, VectorMath.Norm(full), 6);
    }
}
