using KeyEmbed.Stores;

namespace KeyEmbed.Tests.Stores;

/// <summary>The tuning schedule on its own, against a search whose recall is a known function of the breadth.</summary>
public sealed class SearchTunerTests
{
    // 40 queries q0..q39; each one's exact top 11 is itself (cosine 1) and t{q}_0..t{q}_9 (0.9 down to 0.81).
    private static readonly List<TuningQuery> Queries = [.. Enumerable.Range(0, 40).Select(q => new TuningQuery([$"q{q}"], [q]))];
    private static readonly List<IReadOnlyList<(string Id, float Score)>> Exact =
        [.. Queries.Select(q => (IReadOnlyList<(string, float)>)[(q.Sources[0], 1f), .. Enumerable.Range(0, 10).Select(i => ($"t{q.Sources[0]}_{i}", 0.9f - 0.01f * i))])];

    // Finds floor(10 × breadth / 500) of the true ten (all from 500 up), after the query's own row, then farther strangers.
    private static Func<float[], int, int, IReadOnlyList<(string Id, float Score)>> GrowingSearch(List<int> breadthsAsked) => (query, top, breadth) =>
    {
        breadthsAsked.Add(breadth);
        string id = $"q{(int)query[0]}";
        int good = Math.Min(10, 10 * breadth / 500);
        return [(id, 1f), .. Enumerable.Range(0, good).Select(i => ($"t{id}_{i}", 0.9f - 0.01f * i)), .. Enumerable.Range(0, top).Select(i => ($"stranger{i}", 0.5f))];
    };

    [Fact]
    public void It_doubles_the_breadth_until_the_target_is_met_then_halves_the_gap_twice()
    {
        var asked = new List<int>();
        var tuning = SearchTuner.Tune(50_000, Queries, Exact, GrowingSearch(asked), maxBreadth: 100_000, targetRecall: 0.89);
        // 40 … 320 miss (320 finds 6 of 10), 640 finds all; halfway back, 480 finds 9 of 10 = 0.9 (the target and its
        // margin of 0.01); halfway between 320 and 480, 400 finds 8: 480 is chosen.
        Assert.Equal(new SearchTuning(480, 0.9, 0.89, 40, 50_000, Reached: true), tuning);
        Assert.Equal([40, 80, 160, 320, 640, 480, 400], asked.Distinct());
        // Breadths far below the target are dropped after the first 20 queries; the ones that count run all 40.
        Assert.Equal(20, asked.Count(b => b == 40));
        Assert.Equal(20, asked.Count(b => b == 320));
        Assert.Equal(40, asked.Count(b => b == 640));
    }

    [Fact]
    public void The_sample_must_beat_the_target_by_its_sampling_margin()
    {
        // 480 finds exactly 0.9: not enough for a target of 0.9, whose sample must reach 0.91; 560 finds all.
        var tuning = SearchTuner.Tune(50_000, Queries, Exact, GrowingSearch([]), maxBreadth: 100_000, targetRecall: 0.9);
        Assert.Equal((560, 1.0, 0.9), (tuning.Breadth, tuning.Recall, tuning.TargetRecall));
    }

    [Fact]
    public void Given_queries_whose_recall_spreads_widely_must_beat_the_target_by_two_standard_errors()
    {
        // 20 queries; below breadth 80, 16 of them find all ten and 4 find six: 0.92 on average, over a target of 0.9
        // and its fixed margin, but with a standard error of 0.037 (the 4 could as well have been 8 in another sample).
        // Made from stored rows (midpoints), 40 does; given, the sample must reach 0.9 + 2 × 0.037 and 80 (all) is chosen.
        var exact = Enumerable.Range(0, 20).Select(q => (IReadOnlyList<(string, float)>)[.. Enumerable.Range(0, 10).Select(i => ($"t{q}_{i}", 0.9f - 0.01f * i))]).ToList();
        IReadOnlyList<(string Id, float Score)> Search(float[] query, int top, int breadth)
        {
            int q = (int)query[0];
            int good = breadth >= 80 || q >= 4 ? 10 : 6;
            return [.. Enumerable.Range(0, good).Select(i => ($"t{q}_{i}", 0.9f - 0.01f * i)), .. Enumerable.Range(0, top).Select(i => ($"stranger{i}", 0.5f))];
        }
        var fromRows = Enumerable.Range(0, 20).Select(q => new TuningQuery([$"row{q}"], [q])).ToList();
        Assert.Equal(40, SearchTuner.Tune(10_000, fromRows, exact, Search, maxBreadth: 1000, targetRecall: 0.9).Breadth);
        var given = SearchTuner.GivenQueries([.. Enumerable.Range(0, 20).Select(q => new float[] { q })]);
        var tuning = SearchTuner.Tune(10_000, given, exact, Search, maxBreadth: 1000, targetRecall: 0.9);
        Assert.Equal((80, 1.0, true), (tuning.Breadth, tuning.Recall, tuning.QueriesGiven));
    }

    [Fact]
    public void Queries_are_unit_midpoints_of_two_sampled_vectors_far_apart_in_the_sample()
    {
        var sampled = Enumerable.Range(0, 6).Select(i => ($"s{i}", Enumerable.Range(0, 4).Select(d => d == i % 4 ? 3f : 0f).ToArray())).ToList();
        var queries = SearchTuner.MidpointQueries(sampled);
        Assert.Equal([["s0", "s3"], ["s1", "s4"], ["s2", "s5"]], queries.Select(q => q.Sources.ToArray()));
        Assert.Equal([MathF.Sqrt(0.5f), 0, 0, MathF.Sqrt(0.5f)], queries[0].Vector);
        Assert.Equal([MathF.Sqrt(0.5f), MathF.Sqrt(0.5f), 0, 0], queries[1].Vector, new FloatTolerance(1e-6f));
        // One row alone is its own query; opposite rows have no midpoint, the first stands in.
        Assert.Equal(["s0"], SearchTuner.MidpointQueries(sampled[..1])[0].Sources);
        Assert.Equal([1f, 0], SearchTuner.MidpointQueries([("a", [1f, 0]), ("b", [-1f, 0])])[0].Vector);
    }

    private sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }

    [Fact]
    public void The_query_s_own_row_counts_neither_as_found_nor_as_wanted()
    {
        // GrowingSearch returns the query's own row first: were it counted, recall from 500 up would not be exactly 1.
        // 640 finds all, 480 misses one, 560 finds all.
        var tuning = SearchTuner.Tune(50_000, Queries, Exact, GrowingSearch([]), maxBreadth: 100_000, targetRecall: 1.0);
        Assert.Equal(560, tuning.Breadth);
        Assert.Equal(1.0, tuning.Recall);
    }

    [Fact]
    public void Rows_as_near_as_the_tenth_exact_neighbour_count_whichever_of_equals_either_list_holds()
    {
        // Twenty rows at the same cosine (duplicate texts): the exact top 10 holds ten of them, the search the other ten.
        var exact = Queries.Select(q => (IReadOnlyList<(string, float)>)[(q.Sources[0], 1f), .. Enumerable.Range(0, 10).Select(i => ($"twin{i}", 0.7f))]).ToList();
        IReadOnlyList<(string, float)> Search(float[] query, int top, int breadth) =>
            [($"q{(int)query[0]}", 1f), .. Enumerable.Range(10, 10).Select(i => ($"twin{i}", 0.7f)), ("farther", 0.69f)];
        var tuning = SearchTuner.Tune(50_000, Queries, exact, Search, maxBreadth: 100_000, targetRecall: 1.0);
        Assert.Equal((40, 1.0, true), (tuning.Breadth, tuning.Recall, tuning.Reached));
    }

    [Fact]
    public void A_target_no_allowed_breadth_reaches_ends_at_the_widest_saying_so()
    {
        var steps = new List<SearchTuningStep>();
        var tuning = SearchTuner.Tune(50_000, Queries, Exact, GrowingSearch([]), maxBreadth: 300, targetRecall: 0.95, new ListProgress(steps));
        Assert.False(tuning.Reached);
        Assert.Equal(300, tuning.Breadth);
        Assert.Equal(0.6, tuning.Recall, 6);
        Assert.Equal([40, 80, 160, 300], steps.Select(s => s.Breadth));
    }

    [Fact]
    public void A_walk_as_wide_as_the_store_is_the_last_one_tried()
    {
        var asked = new List<int>();
        var tuning = SearchTuner.Tune(rows: 100, Queries, Exact, GrowingSearch(asked), maxBreadth: 100_000, targetRecall: 0.95);
        Assert.False(tuning.Reached);
        Assert.Equal(160, asked.Max());
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.01)]
    [InlineData(double.NaN)]
    public void A_target_outside_0_to_1_is_an_input_error(double target)
    {
        var error = Assert.Throws<KeyEmbedException>(() => SearchTuner.Tune(50_000, Queries, Exact, GrowingSearch([]), 100_000, target));
        Assert.Equal(ErrorKind.InvalidInput, error.Kind);
        Assert.Contains("target recall", error.Message);
    }

    [Fact]
    public void A_tuning_holds_until_the_store_doubles_and_scales_with_top()
    {
        var tuning = new SearchTuning(300, 0.96, 0.95, 100, 10_000, true);
        Assert.True(tuning.HoldsFor(20_000));
        Assert.False(tuning.HoldsFor(20_001));
        Assert.Equal(300, tuning.BreadthFor(1, 100_000));
        Assert.Equal(300, tuning.BreadthFor(10, 100_000));
        Assert.Equal(1500, tuning.BreadthFor(50, 100_000));
        Assert.Equal(1000, tuning.BreadthFor(50, 1000));
        Assert.Equal(2000, tuning.BreadthFor(2000, 1000)); // never fewer candidates than rows asked for
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("{\"breadth\": 0}")]
    public void A_missing_or_damaged_record_is_no_tuning(string? json) => Assert.Null(SearchTuning.FromJson(json));

    [Fact]
    public void A_record_reads_back_as_written()
    {
        var tuning = new SearchTuning(384, 0.962, 0.95, 100, 123_456, true);
        Assert.Equal(tuning, SearchTuning.FromJson(tuning.ToJson()));
    }

    private sealed class ListProgress(List<SearchTuningStep> steps) : IProgress<SearchTuningStep>
    {
        public void Report(SearchTuningStep value) => steps.Add(value);
    }

    [Fact]
    public void A_record_made_before_given_queries_existed_reads_as_midpoint_queries()
    {
        var tuning = SearchTuning.FromJson("""{"breadth":160,"recall":0.97,"target_recall":0.95,"queries":100,"rows":5000,"reached":true}""");
        Assert.NotNull(tuning);
        Assert.False(tuning.QueriesGiven);
        Assert.Equal(160, tuning.Breadth);
    }
}
