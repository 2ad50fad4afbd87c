namespace KeyEmbed.Evaluation;

/// <summary>Pearson and Spearman correlation coefficients, computed in double precision.</summary>
/// <remarks>
/// Both need at least two pairs of finite values. When either side is constant the coefficient is undefined
/// (zero variance); the methods then return <see cref="double.NaN"/> rather than throw, so one degenerate
/// configuration does not abort a sweep. Callers print NaN as "n/a".
/// </remarks>
public static class Correlation
{
    /// <summary>Pearson's linear correlation of <paramref name="x"/> and <paramref name="y"/>.</summary>
    /// <exception cref="KeyEmbedException">Fewer than two pairs, or a value that is NaN or infinite.</exception>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public static double Pearson(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        return PearsonOf(x, y);
    }

    /// <summary>
    /// Spearman's rank correlation: Pearson's correlation of the ranks, where tied values share the average of
    /// the ranks they span (the "fractional ranking" scipy.stats.spearmanr uses).
    /// </summary>
    /// <exception cref="KeyEmbedException">Fewer than two pairs, or a value that is NaN or infinite.</exception>
    /// <exception cref="ArgumentException">The two lists differ in length.</exception>
    public static double Spearman(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        Check(x, y);
        return PearsonOf(AverageRanks(x), AverageRanks(y));
    }

    /// <summary>1-based ranks; a run of equal values gets the mean of the ranks it occupies.</summary>
    internal static double[] AverageRanks(IReadOnlyList<double> values)
    {
        int n = values.Count;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        Array.Sort(order, (a, b) => values[a].CompareTo(values[b]));
        var ranks = new double[n];
        for (int start = 0; start < n;)
        {
            int end = start + 1;
            while (end < n && values[order[end]] == values[order[start]]) end++;
            // Positions start..end-1 hold ranks start+1..end; their mean is (start + 1 + end) / 2.
            double rank = (start + 1 + end) / 2.0;
            for (int k = start; k < end; k++) ranks[order[k]] = rank;
            start = end;
        }
        return ranks;
    }

    // Two-pass (centre first) to avoid the cancellation of the one-pass sum-of-squares formula.
    private static double PearsonOf(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        int n = x.Count;
        double meanX = 0, meanY = 0;
        for (int i = 0; i < n; i++) { meanX += x[i]; meanY += y[i]; }
        meanX /= n;
        meanY /= n;
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < n; i++)
        {
            double dx = x[i] - meanX, dy = y[i] - meanY;
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        if (sxx == 0 || syy == 0) return double.NaN;
        return Math.Clamp(sxy / Math.Sqrt(sxx * syy), -1.0, 1.0);
    }

    private static void Check(IReadOnlyList<double> x, IReadOnlyList<double> y)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (x.Count != y.Count)
            throw new ArgumentException($"correlation needs two lists of equal length, got {x.Count} and {y.Count}");
        if (x.Count < 2)
            throw KeyEmbedException.Input($"a correlation needs at least 2 pairs, got {x.Count}; use a larger evaluation file");
        for (int i = 0; i < x.Count; i++)
            if (!double.IsFinite(x[i]) || !double.IsFinite(y[i]))
                throw KeyEmbedException.Input($"pair {i} has a value that is not a finite number ({x[i]}, {y[i]}); correlations need finite values");
    }
}
