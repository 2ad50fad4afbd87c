namespace KeyEmbed.Server;

/// <summary>Cosine of two vectors and top-k of a score row: what <c>/similarity</c> adds to the library's <c>SimilarityMatrix</c>.</summary>
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
