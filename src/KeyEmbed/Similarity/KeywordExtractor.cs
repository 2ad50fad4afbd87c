using KeyEmbed.Embedding;

namespace KeyEmbed.Similarity;

/// <summary>One keyword found in a document.</summary>
/// <param name="Text">The candidate phrase (lower-cased when it came from the document).</param>
/// <param name="Score">Cosine similarity of the phrase's vector to the document's vector.</param>
public sealed record Keyword(string Text, float Score);

/// <summary>How <c>Keywords</c> picks keyword candidates and ranks them.</summary>
public sealed record KeywordOptions
{
    /// <summary>Largest n-gram length allowed in <see cref="MaxNgram"/>.</summary>
    public const int NgramLimit = 6;

    /// <summary>How many keywords to return (at least 1).</summary>
    public int Top { get; init; } = 5;

    /// <summary>Shortest candidate phrase, in words (1..<see cref="NgramLimit"/>).</summary>
    public int MinNgram { get; init; } = 1;

    /// <summary>Longest candidate phrase, in words (MinNgram..<see cref="NgramLimit"/>).</summary>
    public int MaxNgram { get; init; } = 2;

    /// <summary>
    /// 0 = rank purely by similarity to the document; above 0, maximal marginal relevance trades similarity to
    /// the document for dissimilarity to keywords already chosen (1 = only dissimilarity). Range 0..1.
    /// </summary>
    public double Diversity { get; init; }

    /// <summary>Candidates to rank instead of the document's own n-grams; null = take them from the document.</summary>
    public IReadOnlyList<string>? Candidates { get; init; }

    /// <summary>Leave English and Chinese stop words out of candidate phrases (on by default).</summary>
    public bool RemoveStopWords { get; init; } = true;

    /// <summary>Throws <see cref="KeyEmbedException"/> naming the first option out of range.</summary>
    public void Validate()
    {
        if (Top < 1) throw KeyEmbedException.Input($"top must be at least 1 (got {Top})", nameof(Top));
        if (MinNgram < 1 || MaxNgram < MinNgram || MaxNgram > NgramLimit)
            throw KeyEmbedException.Input($"n-gram range must satisfy 1 <= min <= max <= {NgramLimit} (got {MinNgram}..{MaxNgram})", nameof(MaxNgram));
        if (!(Diversity >= 0 && Diversity <= 1))
            throw KeyEmbedException.Input($"diversity must be between 0 and 1 (got {Diversity})", nameof(Diversity));
    }
}

/// <summary>
/// Keyword ranking as KeyBERT does it: candidate phrases are embedded with the same model as the document and
/// ranked by cosine to the document's vector, optionally re-ranked by maximal marginal relevance (Carbonell and
/// Goldstein 1998) for diversity. Works on any embed function, so the ranking logic is testable without a model.
/// </summary>
public sealed class KeywordExtractor(Func<IReadOnlyList<string>, float[][]> embed)
{
    /// <summary>The top keywords of <paramref name="document"/>, best first (MMR: in the order chosen).</summary>
    public IReadOnlyList<Keyword> Extract(string document, KeywordOptions options)
    {
        ArgumentNullException.ThrowIfNull(document);
        options.Validate();
        var candidates = CandidatesFor(document, options);
        if (string.IsNullOrWhiteSpace(document) || candidates.Count == 0) return [];

        var vectors = embed([document, .. candidates]);
        if (vectors.Length != candidates.Count + 1)
            throw new InvalidOperationException($"embed returned {vectors.Length} vectors for {candidates.Count + 1} texts");
        var unit = VectorMath.UnitCopies(vectors);
        var documentVector = unit[0];
        var candidateVectors = unit[1..];
        var toDocument = candidateVectors.Select(v => SimilarityMatrix.Dot(v, documentVector)).ToArray();

        var chosen = options.Diversity > 0
            ? MaximalMarginalRelevance(toDocument, candidateVectors, options.Top, options.Diversity)
            : [.. Enumerable.Range(0, candidates.Count).OrderByDescending(i => toDocument[i]).Take(options.Top)];
        return [.. chosen.Select(i => new Keyword(candidates[i], toDocument[i]))];
    }

    /// <summary>The given candidates (trimmed, distinct), else the document's n-grams.</summary>
    public static List<string> CandidatesFor(string document, KeywordOptions options) =>
        options.Candidates is { } given
            ? given.Select(c => c.Trim()).Where(c => c.Length > 0).Distinct(StringComparer.Ordinal).ToList()
            : Candidates(document, options.MinNgram, options.MaxNgram, options.RemoveStopWords);

    /// <summary>
    /// The document's distinct word n-grams (min..max words) in order of first appearance. N-grams never cross
    /// punctuation or a stop word, so each is a phrase that occurs in the text.
    /// </summary>
    public static List<string> Candidates(string document, int minNgram, int maxNgram, bool removeStopWords)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var result = new List<string>();
        foreach (var run in Segmenters.WordRuns(document, removeStopWords))
            for (int start = 0; start < run.Count; start++)
                for (int n = minNgram; n <= maxNgram && start + n <= run.Count; n++)
                {
                    string phrase = Segmenters.Join(run, start, n);
                    if (seen.Add(phrase)) result.Add(phrase);
                }
        return result;
    }

    /// <summary>
    /// Greedy MMR: first the candidate closest to the document; then, each step, the candidate maximising
    /// (1 - diversity) × sim(candidate, document) - diversity × max sim(candidate, already chosen).
    /// Ties go to the earlier candidate. Vectors are unit length, so a dot product is the cosine.
    /// </summary>
    internal static List<int> MaximalMarginalRelevance(float[] toDocument, float[][] unitVectors, int top, double diversity)
    {
        int n = toDocument.Length;
        var chosen = new List<int>();
        var remaining = new List<int>(Enumerable.Range(0, n));
        // Highest similarity to anything chosen so far, per candidate; updated as each keyword is chosen.
        var closestChosen = new double[n];
        Array.Fill(closestChosen, double.NegativeInfinity);
        while (chosen.Count < Math.Min(top, n))
        {
            int best = -1;
            double bestScore = double.NegativeInfinity;
            foreach (int i in remaining)
            {
                double score = chosen.Count == 0
                    ? toDocument[i]
                    : (1 - diversity) * toDocument[i] - diversity * closestChosen[i];
                if (score > bestScore) { bestScore = score; best = i; }
            }
            chosen.Add(best);
            remaining.Remove(best);
            foreach (int i in remaining)
                closestChosen[i] = Math.Max(closestChosen[i], SimilarityMatrix.Dot(unitVectors[i], unitVectors[best]));
        }
        return chosen;
    }
}
