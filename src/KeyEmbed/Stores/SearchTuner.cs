using System.Text.Json;

namespace KeyEmbed.Stores;

/// <summary>
/// What tuning a store's search found (<see cref="IVectorStore.TuneSearch"/>): the smallest search breadth whose top 10
/// held <see cref="TargetRecall"/> of the exact top 10, measured with <see cref="Queries"/> queries made from stored vectors
/// over the <see cref="Rows"/> the store held then. A store records it and searches with it while it holds
/// (<see cref="HoldsFor"/>), unless a search breadth is given when opening.
/// </summary>
/// <param name="Breadth">The search breadth chosen (the widest tried when <paramref name="Reached"/> is false).</param>
/// <param name="Recall">Recall@10 measured at <paramref name="Breadth"/>.</param>
/// <param name="TargetRecall">The recall asked for.</param>
/// <param name="Queries">How many queries were measured (each the midpoint of two stored vectors, unless <paramref name="QueriesGiven"/>).</param>
/// <param name="Rows">How many rows the store held when tuned.</param>
/// <param name="Reached">Whether some breadth the store allows reached the target.</param>
/// <param name="QueriesGiven">Whether the queries were the caller's own (texts like the ones searches will ask) instead of midpoints.</param>
public sealed record SearchTuning(int Breadth, double Recall, double TargetRecall, int Queries, long Rows, bool Reached, bool QueriesGiven = false)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>
    /// Whether the tuning still describes a store of <paramref name="rows"/> rows: until the store has grown past
    /// twice the rows it was tuned on (a graph walk needs more breadth as rows grow; the store's fixed default applies
    /// beyond that until it is tuned again).
    /// </summary>
    public bool HoldsFor(long rows) => rows <= 2 * Math.Max(Rows, 1);

    /// <summary>
    /// Whether searches of a store of <paramref name="rows"/> rows scan every row instead of walking the graph: the
    /// tuning still holds and no breadth reached the target. The recall asked for is the contract; a graph that cannot
    /// give it (random vectors over a million rows in pgvector's default graph find 0.14 of the top 10 at its widest
    /// walk) would return mostly wrong neighbours, where a scan returns the right ones (docs/stores.md). A search
    /// breadth given when opening walks the graph regardless.
    /// </summary>
    public bool ScansFor(long rows) => !Reached && HoldsFor(rows);

    /// <summary>The breadth a top-<paramref name="top"/> search walks: the tuned one (measured for top 10) scaled with top, within [top, max].</summary>
    public int BreadthFor(int top, int max) =>
        (int)Math.Clamp(Math.Max(top, (long)Breadth * Math.Max(top, SearchTuner.Top) / SearchTuner.Top), 1, Math.Max(max, top));

    internal string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The recorded tuning, or null when <paramref name="json"/> is missing or not one (it is advice, so a damaged record is ignored, not fatal).</summary>
    internal static SearchTuning? FromJson(string? json)
    {
        if (string.IsNullOrWhiteSpace(json)) return null;
        try
        {
            var tuning = JsonSerializer.Deserialize<SearchTuning>(json, Json);
            return tuning is { Breadth: >= 1, Rows: >= 0 } ? tuning : null;
        }
        catch (JsonException) { return null; }
    }
}

/// <summary>One breadth tried while tuning, for progress lines.</summary>
/// <param name="Breadth">The search breadth tried.</param>
/// <param name="Recall">Recall@10 over the queries run (all of them, unless <paramref name="GaveUp"/>).</param>
/// <param name="GaveUp">Whether the breadth was dropped early, its recall too far below the target to reach it.</param>
/// <param name="Seconds">Time spent on this breadth.</param>
public sealed record SearchTuningStep(int Breadth, double Recall, bool GaveUp, double Seconds);

/// <summary>
/// Finds the smallest search breadth that reaches a recall target on a store, the same way for every store: midpoints
/// of two stored vectors as queries (the two left out of both lists), the exact top 10 from the store's brute force, and
/// the store's own search at doubling breadths (40, 80, … up to the store's maximum), then two halvings of the last gap.
/// Why measure instead of fixing a default: how wide a graph walk must be depends on the data (real embeddings are
/// clustered and need a few hundred candidates; random vectors over a million rows need tens of thousands,
/// docs/stores.md), and on the number of rows.
/// </summary>
public static class SearchTuner
{
    /// <summary>The recall@10 <c>index</c> tunes for unless told otherwise.</summary>
    public const double DefaultTargetRecall = 0.95;

    /// <summary>Queries measured (each made from two sampled stored vectors).</summary>
    public const int SampleSize = 100;

    /// <summary>A store with fewer rows is not tuned by <c>index</c> (the fixed default walks nearly all of it anyway).</summary>
    public const long MinRows = 1000;

    /// <summary>The top the recall is measured at.</summary>
    public const int Top = 10;

    // pgvector's default ef_search; USearch walks at least 64 whatever it is asked. A narrower walk saves nothing
    // measurable.
    private const int FirstBreadth = 40;
    private const int CheckEvery = 20;

    // The sample must beat the target by this much: its recall over 1,000 neighbours has a sampling error of about
    // ±0.007, and over 100,000 random vectors a breadth whose queries just reached 0.955 gave new ones 0.9485.
    private const double SamplingMargin = 0.01;

    /// <summary>Rows a tuning query leaves out of its lists (its two sources): searches ask for <see cref="Top"/> + this many.</summary>
    internal const int ExcludedPerQuery = 2;
    private const int Refinements = 2;
    private const double GiveUpBelow = 0.2;

    /// <summary>Throws an input error unless <paramref name="targetRecall"/> is in (0, 1].</summary>
    public static void CheckTarget(double targetRecall)
    {
        if (!(targetRecall > 0 && targetRecall <= 1))
            throw KeyEmbedException.Input($"target recall must be above 0 and at most 1 (got {targetRecall.ToString(System.Globalization.CultureInfo.InvariantCulture)})", "TargetRecall");
    }

    /// <summary>Which of <paramref name="count"/> stored rows (by position) make the queries: 2 × <see cref="SampleSize"/>, spread by a fixed seed, so tuning twice picks the same.</summary>
    internal static int[] SamplePositions(long count)
    {
        var random = new Random(20261205);
        if (count <= 2 * SampleSize) return [.. Enumerable.Range(0, (int)count)];
        var chosen = new SortedSet<int>();
        while (chosen.Count < 2 * SampleSize) chosen.Add((int)random.NextInt64(Math.Min(count, int.MaxValue)));
        return [.. chosen];
    }

    /// <summary>
    /// The queries tuning searches with: the normalized midpoint of two sampled stored vectors (the first half paired
    /// with the second, so not two neighbours in the input's order), its two sources left out of both lists. Why not
    /// the stored vectors themselves: a walk finds a point that is in the graph, and the neighbours the graph links it
    /// to, more easily than the neighbours of a point between texts, which is where real queries fall (a sentence among
    /// stored keywords) — at pgvector's narrowest walk, stored keywords as queries found 0.973 of their neighbours
    /// and STS sentences 0.894 (docs/stores.md).
    /// </summary>
    internal static List<TuningQuery> MidpointQueries(IReadOnlyList<(string Id, float[] Vector)> sampled)
    {
        if (sampled.Count == 1) return [new([sampled[0].Id], sampled[0].Vector)];
        int half = sampled.Count / 2;
        var queries = new List<TuningQuery>(half);
        for (int i = 0; i < half; i++)
        {
            var (a, b) = (sampled[i], sampled[i + half]);
            var middle = new float[a.Vector.Length];
            float normA = System.Numerics.Tensors.TensorPrimitives.Norm(a.Vector), normB = System.Numerics.Tensors.TensorPrimitives.Norm(b.Vector);
            for (int d = 0; d < middle.Length; d++)
                middle[d] = (normA > 0 ? a.Vector[d] / normA : 0) + (normB > 0 ? b.Vector[d] / normB : 0);
            float norm = System.Numerics.Tensors.TensorPrimitives.Norm(middle);
            // Opposite vectors have no midpoint direction: the first one stands in.
            if (!(norm > 1e-6f)) middle = (float[])a.Vector.Clone();
            else System.Numerics.Tensors.TensorPrimitives.Divide(middle, norm, middle);
            queries.Add(new([a.Id, b.Id], middle));
        }
        return queries;
    }

    /// <summary>
    /// The caller's own query vectors as tuning queries (<c>keyembed tune --queries FILE</c>): none of them is a stored
    /// row, so nothing is left out of either list. Midpoints are a stand-in for queries nobody has yet, and a harsh one on
    /// clustered data: a midpoint's exact neighbours lie in two unrelated regions, a walk settles in one. Over a million
    /// phrase embeddings in pgvector, midpoints found 0.909 of their top 10 at the widest walk, while STS sentences no
    /// stored text came from found 0.979 at <c>ef_search</c> 400 (docs/stores.md).
    /// </summary>
    internal static List<TuningQuery> GivenQueries(IReadOnlyList<float[]> vectors)
    {
        if (vectors.Count < MinGivenQueries)
            throw KeyEmbedException.Input($"tuning with given queries needs at least {MinGivenQueries} of them (got {vectors.Count}); {SampleSize} or more give a steadier measure");
        return [.. vectors.Select(vector => new TuningQuery([], vector))];
    }

    /// <summary>The fewest given queries a tuning accepts: below this, one query's recall moves the average by more than 0.05.</summary>
    public const int MinGivenQueries = 20;

    /// <summary>
    /// Tunes: <paramref name="queries"/> from <see cref="MidpointQueries"/> or <see cref="GivenQueries"/>; <paramref name="exactTop"/> their exact top
    /// <see cref="Top"/> + 2 (id, cosine) pairs, best first (their sources among them); <paramref name="search"/> the
    /// store's search (query, top, breadth) → (id, exact cosine) pairs, best first; <paramref name="maxBreadth"/> the
    /// widest breadth the store allows.
    /// </summary>
    /// <remarks>
    /// A row found counts when it is as near as the tenth exact neighbour: rows at equal distance (duplicate texts,
    /// vectors a small model cannot tell apart) are equally right, whichever of them either list happens to hold.
    /// </remarks>
    internal static SearchTuning Tune(long rows, IReadOnlyList<TuningQuery> queries, IReadOnlyList<IReadOnlyList<(string Id, float Score)>> exactTop,
        Func<float[], int, int, IReadOnlyList<(string Id, float Score)>> search, int maxBreadth, double targetRecall, IProgress<SearchTuningStep>? progress = null)
    {
        CheckTarget(targetRecall);
        if (queries.Count == 0) throw new ArgumentException("No queries to tune with.", nameof(queries));
        var truth = queries.Select((q, i) => exactTop[i].Where(hit => !q.Sources.Contains(hit.Id)).Take(Top).ToList()).ToList();
        // The tenth exact neighbour's score, less what two computations of one cosine may differ by.
        var threshold = truth.Select(t => t.Count == 0 ? float.NegativeInfinity : t[^1].Score - 1e-5f).ToList();
        bool given = queries.All(q => q.Sources.Count == 0);

        (double Recall, bool GaveUp, bool Enough) Measure(int breadth)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long found = 0, wanted = 0;
            bool gaveUp = false;
            var perQuery = new List<double>(queries.Count);
            for (int q = 0; q < queries.Count; q++)
            {
                var hits = search(queries[q].Vector, Top + ExcludedPerQuery, breadth).Where(hit => !queries[q].Sources.Contains(hit.Id)).Take(Top);
                int foundHere = hits.Count(hit => hit.Score >= threshold[q]);
                found += foundHere;
                wanted += truth[q].Count;
                if (truth[q].Count > 0) perQuery.Add((double)foundHere / truth[q].Count);
                // A breadth far below the target after a fifth of the queries will not reach it: save the rest.
                if ((q + 1) % CheckEvery == 0 && q + 1 < queries.Count && wanted > 0 && (double)found / wanted < targetRecall - GiveUpBelow)
                {
                    gaveUp = true;
                    break;
                }
            }
            double recall = wanted == 0 ? 1 : (double)found / wanted;
            progress?.Report(new SearchTuningStep(breadth, recall, gaveUp, clock.Elapsed.TotalSeconds));
            return (recall, gaveUp, !gaveUp && recall >= Needed(perQuery));
        }

        // The margin over the target covers the sample's error. Midpoints: a fixed 0.01, measured (above). Given queries
        // come in any number and spread: two standard errors of their per-query recall, at least 0.01. Over a million
        // phrase vectors 100 STS sentences found 0.962 at a walk where 200 others found 0.935 (docs/stores.md).
        double Needed(List<double> perQuery)
        {
            double margin = SamplingMargin;
            if (given && perQuery.Count > 1)
            {
                double mean = perQuery.Average();
                double variance = perQuery.Sum(r => (r - mean) * (r - mean)) / (perQuery.Count - 1);
                margin = Math.Max(margin, 2 * Math.Sqrt(variance / perQuery.Count));
            }
            return Math.Min(1.0, targetRecall + margin);
        }

        int previous = 0;
        double lastRecall = 0;
        for (int breadth = Math.Min(FirstBreadth, maxBreadth); ; breadth = (int)Math.Min((long)breadth * 2, maxBreadth))
        {
            var (recall, _, enough) = Measure(breadth);
            lastRecall = recall;
            if (enough)
            {
                // Two halvings of the gap back to the breadth that missed: the breadth within an eighth of the doubling,
                // where searches spend up to a third less time than at the doubled one.
                var (low, high, highRecall) = (previous, breadth, recall);
                for (int step = 0; step < Refinements && low > 0; step++)
                {
                    int middle = (low + high) / 2;
                    if (middle <= low || middle >= high) break;
                    var half = Measure(middle);
                    if (half.Enough) (high, highRecall) = (middle, half.Recall);
                    else low = middle;
                }
                return new SearchTuning(high, highRecall, targetRecall, queries.Count, rows, Reached: true, given);
            }
            // Walking as many candidates as there are rows visits them all: nothing wider can do better.
            if (breadth >= maxBreadth || breadth >= rows) return new SearchTuning(breadth, lastRecall, targetRecall, queries.Count, rows, Reached: false, given);
            previous = breadth;
        }
    }
}

/// <summary>A tuning query: a vector, and the stored rows it was made from (left out of its exact and searched lists).</summary>
internal sealed record TuningQuery(IReadOnlyList<string> Sources, float[] Vector);
