using KeyEmbed.Embedding;

namespace KeyEmbed.Similarity;

/// <summary>
/// Cosine similarities within one set of vectors: the full matrix, each item against the set's mean vector, and
/// each item's mean similarity to the other items. Identical vectors (duplicate keywords) score 1; a zero vector
/// (a text with no tokens to pool) scores 0 against everything, itself included.
/// </summary>
public sealed class SimilarityMatrix
{
    private SimilarityMatrix(float[][] matrix, float[] toSet, float[] meanPairwise)
    {
        Matrix = matrix;
        ToSet = toSet;
        MeanPairwise = meanPairwise;
    }

    /// <summary><c>Matrix[i][j]</c> = cosine of items i and j; symmetric, 1 on the diagonal (0 for a zero vector).</summary>
    public float[][] Matrix { get; }

    /// <summary><c>ToSet[i]</c> = cosine of item i to the mean of all the vectors as given.</summary>
    public float[] ToSet { get; }

    /// <summary><c>MeanPairwise[i]</c> = mean of <c>Matrix[i][j]</c> over j ≠ i; 0 when the set has one item.</summary>
    public float[] MeanPairwise { get; }

    /// <summary>Number of items.</summary>
    public int Count => Matrix.Length;

    /// <summary>Computes the matrix of a set of equal-width vectors. An empty set gives empty arrays.</summary>
    public static SimilarityMatrix Compute(IReadOnlyList<float[]> vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        int n = vectors.Count;
        foreach (var v in vectors)
            if (v.Length != vectors[0].Length)
                throw new ArgumentException($"vectors differ in width: {vectors[0].Length} and {v.Length}", nameof(vectors));

        var unit = VectorMath.UnitCopies(vectors);
        var matrix = new float[n][];
        for (int i = 0; i < n; i++) matrix[i] = new float[n];
        for (int i = 0; i < n; i++)
        {
            // Exactly 1 on the diagonal: rounding would otherwise give 0.99999994 for some vectors.
            matrix[i][i] = VectorMath.Norm(unit[i]) > 0 ? 1f : 0f;
            for (int j = i + 1; j < n; j++)
            {
                // Duplicates (identical vectors) score exactly 1, as the diagonal does, whatever the rounding of the dot product.
                float c = matrix[i][i] == 1f && unit[i].AsSpan().SequenceEqual(unit[j]) ? 1f : Math.Clamp(Dot(unit[i], unit[j]), -1f, 1f);
                matrix[i][j] = c;
                matrix[j][i] = c;
            }
        }

        var mean = VectorMath.Mean(vectors);
        var toSet = new float[n];
        var meanPairwise = new float[n];
        for (int i = 0; i < n; i++)
        {
            toSet[i] = VectorMath.Cosine(vectors[i], mean);
            if (n > 1)
            {
                double sum = 0;
                for (int j = 0; j < n; j++) if (j != i) sum += matrix[i][j];
                meanPairwise[i] = (float)(sum / (n - 1));
            }
        }
        return new SimilarityMatrix(matrix, toSet, meanPairwise);
    }

    internal static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0;
        for (int i = 0; i < a.Length; i++) dot += (double)a[i] * b[i];
        return (float)dot;
    }
}
