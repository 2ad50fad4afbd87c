using System.Numerics.Tensors;
using KeyEmbed.Stores;

namespace KeyEmbed.Tests.Stores;

/// <summary>What the store tuning tests share: a 16-dimensional test profile and random unit vectors for it.</summary>
internal static class StoreTestData
{
    public static readonly StoreProfile Profile = new("test", "0123456789abcdef", [1], "sum", "mean", false, true, 16, "float32");

    public static float[] Unit(Random random)
    {
        var v = new float[16];
        for (int i = 0; i < v.Length; i++) v[i] = (float)(random.NextDouble() * 2 - 1);
        TensorPrimitives.Divide(v, TensorPrimitives.Norm(v), v);
        return v;
    }
}
