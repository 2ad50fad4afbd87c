using KeyEmbed.Embedding;

namespace KeyEmbed.Similarity;

/// <summary>One candidate found near a query.</summary>
/// <param name="Index">Position of the candidate in the list searched.</param>
/// <param name="Similarity">Cosine similarity to the query.</param>
public sealed record Neighbour(int Index, float Similarity);

/// <summary>Top-k of a query among candidates by cosine similarity; equal scores keep the candidates' order.</summary>
public static class NearestNeighbours
{
    /// <summary>
    /// The <paramref name="k"/> candidates most similar to <paramref name="query"/>, best first (fewer when there are
    /// fewer candidates). Throws <see cref="KeyEmbedException"/> when k is below 1.
    /// </summary>
    public static IReadOnlyList<Neighbour> TopK(float[] query, IReadOnlyList<float[]> candidates, int k)
    {
        if (k < 1) throw KeyEmbedException.Input($"top must be at least 1 (got {k})", nameof(KeyEmbed.Similarity.KeywordOptions.Top));
        var queryUnit = VectorMath.UnitCopies([query])[0];
        var scored = new Neighbour[candidates.Count];
        for (int i = 0; i < candidates.Count; i++)
        {
            if (candidates[i].Length != query.Length)
                throw new ArgumentException($"candidate {i} has width {candidates[i].Length}, the query {query.Length}", nameof(candidates));
            scored[i] = new Neighbour(i, VectorMath.Cosine(queryUnit, candidates[i]));
        }
        // OrderByDescending is stable: ties stay in candidate order.
        return [.. scored.OrderByDescending(n => n.Similarity).Take(k)];
    }

    /// <summary>
    /// The <paramref name="k"/> best entries of a row of a similarity matrix, best first, leaving out
    /// <paramref name="exclude"/> (the row's own item); equal scores keep the items' order.
    /// </summary>
    public static IReadOnlyList<Neighbour> TopOfRow(IReadOnlyList<float> scores, int k, int exclude = -1) =>
        [.. scores.Select((score, index) => new Neighbour(index, score)).Where(n => n.Index != exclude)
            .OrderByDescending(n => n.Similarity).Take(k)];
}
