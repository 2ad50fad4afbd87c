using System.Globalization;

namespace KeyEmbed.Evaluation;

/// <summary>One sentence pair of the STS Benchmark with its human similarity score.</summary>
/// <param name="Sentence1">The first sentence.</param>
/// <param name="Sentence2">The second sentence.</param>
/// <param name="Score">Human similarity, 0 (unrelated) to 5 (equivalent).</param>
/// <param name="Genre">The row's genre column (e.g. <c>main-news</c>).</param>
public sealed record StsPair(string Sentence1, string Sentence2, double Score, string Genre);

/// <summary>Correlations between a model's cosine similarities and the human scores of an STS file.</summary>
/// <param name="Pairs">How many pairs were scored.</param>
/// <param name="Spearman">Spearman rank correlation, -1..1 (NaN when either side is constant).</param>
/// <param name="Pearson">Pearson correlation, -1..1 (NaN when either side is constant).</param>
public sealed record StsResult(int Pairs, double Spearman, double Pearson);

/// <summary>
/// Reads the STS Benchmark files (<c>sts-train.csv</c>, <c>sts-dev.csv</c>, <c>sts-test.csv</c>) and scores an
/// embedding function on them.
/// </summary>
/// <remarks>
/// Format: UTF-8, one pair per line, tab-separated, no header: genre, file, year, id, score, sentence 1,
/// sentence 2, optionally followed by extra attribution columns, which are ignored. Sentences may contain quote
/// characters, so lines are split on tabs only, never parsed as quoted CSV.
/// </remarks>
public static class StsBenchmark
{
    /// <summary>The lowest human score.</summary>
    public const double MinScore = 0;

    /// <summary>The highest human score.</summary>
    public const double MaxScore = 5;

    private const int ScoreColumn = 4;
    private const int RequiredColumns = 7;

    /// <summary>Reads every pair of an STS Benchmark file.</summary>
    /// <exception cref="KeyEmbedException">The file is missing, empty, or has a malformed row (the message names the file and line).</exception>
    public static IReadOnlyList<StsPair> Read(string path)
    {
        if (!File.Exists(path))
            throw KeyEmbedException.Input($"{path}: STS file not found; pass a file such as ../shared/data/stsbenchmark/sts-test.csv");
        using var reader = new StreamReader(path, System.Text.Encoding.UTF8);
        return Parse(reader, path);
    }

    /// <summary>Reads pairs from STS Benchmark text; <paramref name="sourceName"/> names the source in error messages.</summary>
    /// <exception cref="KeyEmbedException">A malformed row, or no rows at all.</exception>
    public static IReadOnlyList<StsPair> Parse(TextReader reader, string sourceName)
    {
        var pairs = new List<StsPair>();
        int lineNumber = 0;
        for (string? line = reader.ReadLine(); line != null; line = reader.ReadLine())
        {
            lineNumber++;
            if (line.Length == 0) continue; // a trailing blank line is not a row
            string[] columns = line.Split('\t');
            if (columns.Length < RequiredColumns)
                throw Malformed(sourceName, lineNumber,
                    $"{columns.Length} tab-separated column(s), expected at least {RequiredColumns} (genre, file, year, id, score, sentence 1, sentence 2)");
            string scoreText = columns[ScoreColumn];
            if (!double.TryParse(scoreText, NumberStyles.Float, CultureInfo.InvariantCulture, out double score) || !double.IsFinite(score))
                throw Malformed(sourceName, lineNumber, $"score (column 5) '{scoreText}' is not a number");
            if (score < MinScore || score > MaxScore)
                throw Malformed(sourceName, lineNumber, $"score (column 5) {scoreText} is outside {MinScore}..{MaxScore}");
            string first = columns[5].Trim(), second = columns[6].Trim();
            if (first.Length == 0 || second.Length == 0)
                throw Malformed(sourceName, lineNumber, $"sentence {(first.Length == 0 ? 1 : 2)} (column {(first.Length == 0 ? 6 : 7)}) is empty");
            pairs.Add(new StsPair(first, second, score, columns[0]));
        }
        if (pairs.Count == 0)
            throw KeyEmbedException.Input($"{sourceName}: no sentence pairs; expected tab-separated STS Benchmark rows");
        return pairs;
    }

    /// <summary>
    /// Embeds every distinct sentence once with <paramref name="embed"/>, scores each pair by the cosine of its two
    /// vectors, and correlates those cosines with the human scores.
    /// </summary>
    /// <param name="pairs">The pairs to score (at least two).</param>
    /// <param name="embed">Maps texts to one vector each, in the same order.</param>
    public static StsResult Evaluate(IReadOnlyList<StsPair> pairs, Func<IReadOnlyList<string>, float[][]> embed)
    {
        ArgumentNullException.ThrowIfNull(embed);
        return EvaluateMany(pairs, texts => [embed(texts)])[0];
    }

    /// <summary>
    /// Scores several embedding configurations at once: <paramref name="embedUnderEach"/> receives every distinct
    /// sentence once and returns one vector list per configuration (each in the order of the texts); the result has
    /// one <see cref="StsResult"/> per configuration, in the same order. This is how a layer/pooling sweep scores
    /// many configurations from one model run.
    /// </summary>
    /// <param name="pairs">The pairs to score (at least two).</param>
    /// <param name="embedUnderEach">Maps texts to one vector list per configuration.</param>
    public static IReadOnlyList<StsResult> EvaluateMany(IReadOnlyList<StsPair> pairs, Func<IReadOnlyList<string>, IReadOnlyList<float[][]>> embedUnderEach)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        ArgumentNullException.ThrowIfNull(embedUnderEach);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var texts = new List<string>();
        foreach (var pair in pairs)
            foreach (var sentence in (ReadOnlySpan<string>)[pair.Sentence1, pair.Sentence2])
                if (index.TryAdd(sentence, texts.Count)) texts.Add(sentence);

        var scores = pairs.Select(p => p.Score).ToArray();
        var results = new List<StsResult>();
        foreach (var vectors in embedUnderEach(texts))
        {
            if (vectors.Length != texts.Count)
                throw new InvalidOperationException($"the embedding function returned {vectors.Length} vectors for {texts.Count} texts");
            var cosines = new double[pairs.Count];
            for (int i = 0; i < pairs.Count; i++)
                cosines[i] = Cosine(vectors[index[pairs[i].Sentence1]], vectors[index[pairs[i].Sentence2]]);
            results.Add(new StsResult(pairs.Count, Correlation.Spearman(cosines, scores), Correlation.Pearson(cosines, scores)));
        }
        return results;
    }

    /// <summary>Cosine similarity in double precision; 0 when either vector is all zeros.</summary>
    internal static double Cosine(float[] a, float[] b)
    {
        if (a.Length != b.Length)
            throw new InvalidOperationException($"vectors of different lengths ({a.Length} and {b.Length})");
        double dot = 0, normA = 0, normB = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += (double)a[i] * b[i];
            normA += (double)a[i] * a[i];
            normB += (double)b[i] * b[i];
        }
        return normA == 0 || normB == 0 ? 0 : dot / Math.Sqrt(normA * normB);
    }

    private static KeyEmbedException Malformed(string source, int line, string problem) =>
        KeyEmbedException.Input($"{source}: line {line}: {problem}; each row must be genre, file, year, id, score (0-5), sentence 1, sentence 2, separated by tabs");
}
