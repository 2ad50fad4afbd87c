using System.Numerics.Tensors;

namespace KeyEmbed.Embedding;

/// <summary>Post-processing and small vector helpers shared by embedding and similarity code.</summary>
internal static class VectorMath
{
    /// <summary>Euclidean length, accumulated in double so long vectors of small values stay exact enough.</summary>
    public static double Norm(ReadOnlySpan<float> v)
    {
        double sum = 0;
        foreach (float x in v) sum += (double)x * x;
        return Math.Sqrt(sum);
    }

    /// <summary>Scales <paramref name="v"/> in place to unit length; a zero vector stays zero (nothing to point anywhere).</summary>
    public static void NormalizeInPlace(Span<float> v)
    {
        double norm = Norm(v);
        if (norm > 0) TensorPrimitives.Multiply(v, (float)(1.0 / norm), v);
    }

    /// <summary>
    /// Truncates to the first <paramref name="dimensions"/> values (Matryoshka-style) and then, when asked,
    /// L2-normalizes: truncation first so the shortened vector is itself unit length.
    /// </summary>
    public static float[] Finish(float[] vector, int dimensions, bool normalize)
    {
        var result = dimensions < vector.Length ? vector[..dimensions] : vector;
        if (normalize) NormalizeInPlace(result);
        return result;
    }

    /// <summary>Cosine similarity; 0 when either vector is zero (an empty text pooled over no tokens).</summary>
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"vectors differ in width: {a.Length} and {b.Length}");
        double na = Norm(a), nb = Norm(b);
        if (na == 0 || nb == 0) return 0f;
        double dot = 0;
        for (int i = 0; i < a.Length; i++) dot += (double)a[i] * b[i];
        return (float)Math.Clamp(dot / (na * nb), -1.0, 1.0);
    }

    /// <summary>Element-wise mean of equal-width vectors; an empty list gives an empty vector.</summary>
    public static float[] Mean(IReadOnlyList<float[]> vectors)
    {
        if (vectors.Count == 0) return [];
        var sum = new double[vectors[0].Length];
        foreach (var v in vectors)
        {
            if (v.Length != sum.Length) throw new ArgumentException($"vectors differ in width: {sum.Length} and {v.Length}");
            for (int i = 0; i < v.Length; i++) sum[i] += v[i];
        }
        var mean = new float[sum.Length];
        for (int i = 0; i < sum.Length; i++) mean[i] = (float)(sum[i] / vectors.Count);
        return mean;
    }

    /// <summary>
    /// Weighted mean of equal-width vectors, e.g. the windows of a long text weighted by their real-token counts:
    /// for mean pooling over non-overlapping windows this equals the mean over all the text's tokens.
    /// </summary>
    public static float[] WeightedMean(IReadOnlyList<float[]> vectors, IReadOnlyList<double> weights)
    {
        if (vectors.Count != weights.Count) throw new ArgumentException($"{vectors.Count} vectors but {weights.Count} weights");
        if (vectors.Count == 0) return [];
        var sum = new double[vectors[0].Length];
        double total = 0;
        for (int k = 0; k < vectors.Count; k++)
        {
            if (vectors[k].Length != sum.Length) throw new ArgumentException($"vectors differ in width: {sum.Length} and {vectors[k].Length}");
            if (!(weights[k] >= 0)) throw new ArgumentException($"weight {k} is {weights[k]}; weights must be non-negative");
            for (int i = 0; i < sum.Length; i++) sum[i] += weights[k] * vectors[k][i];
            total += weights[k];
        }
        var mean = new float[sum.Length];
        if (total > 0) for (int i = 0; i < sum.Length; i++) mean[i] = (float)(sum[i] / total);
        return mean;
    }

    /// <summary>Unit-length copies (zero vectors stay zero), so that cosine becomes a plain dot product.</summary>
    public static float[][] UnitCopies(IReadOnlyList<float[]> vectors)
    {
        var result = new float[vectors.Count][];
        for (int i = 0; i < vectors.Count; i++)
        {
            result[i] = (float[])vectors[i].Clone();
            NormalizeInPlace(result[i]);
        }
        return result;
    }
}
