namespace KeyEmbed.Server;

/// <summary>Cosine similarity, a set's centroid and nearest neighbours over plain vectors (the page's numbers).</summary>
internal static class VectorMath
{
    public static float Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length) throw new ArgumentException($"Vectors of {a.Length} and {b.Length} dimensions cannot be compared.");
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            na += (double)a[i] * a[i];
            nb += (double)b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0f : (float)(dot / Math.Sqrt(na * nb));
    }

    /// <summary>Pairwise cosine similarity; symmetric with ones on the diagonal (for non-zero vectors).</summary>
    public static float[][] Matrix(IReadOnlyList<float[]> vectors)
    {
        var n = vectors.Count;
        var matrix = new float[n][];
        for (var i = 0; i < n; i++) matrix[i] = new float[n];
        for (var i = 0; i < n; i++)
            for (var j = i; j < n; j++)
                matrix[i][j] = matrix[j][i] = Cosine(vectors[i], vectors[j]);
        return matrix;
    }

    /// <summary>
    /// Each vector's similarity to the whole set: cosine to the centroid of the set's unit vectors, so every
    /// member weighs the same whatever its length.
    /// </summary>
    public static float[] ToSet(IReadOnlyList<float[]> vectors)
    {
        var centroid = new float[vectors[0].Length];
        foreach (var vector in vectors)
        {
            var norm = Math.Sqrt(vector.Sum(x => (double)x * x));
            if (norm == 0) continue;
            for (var i = 0; i < centroid.Length; i++) centroid[i] += (float)(vector[i] / norm);
        }
        return [.. vectors.Select(v => Cosine(v, centroid))];
    }

    /// <summary>Indices of the <paramref name="k"/> highest scores, best first, skipping <paramref name="exclude"/>.</summary>
    public static int[] TopK(ReadOnlySpan<float> scores, int k, int exclude = -1)
    {
        var order = new List<int>(scores.Length);
        for (var i = 0; i < scores.Length; i++) if (i != exclude) order.Add(i);
        var copy = scores.ToArray();
        order.Sort((x, y) => copy[y].CompareTo(copy[x]) is var c && c != 0 ? c : x.CompareTo(y));
        return [.. order.Take(k)];
    }
}
