using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Evaluation;

public sealed class StsBenchmarkTests
{
    // Four pairs over four sentences; one row carries the two optional attribution columns, one an unbalanced quote.
    private const string TinyFile =
        "main-captions\tMSRvid\t2012test\t0001\t5.000\ta\tb\n" +
        "main-news\theadlines\t2015\t0002\t1.000\ta\t\"c\n" +
        "main-forum\tanswer-answer\t2016\t0003\t4.0\ta\td\tsource\tlicence\n" +
        "main-news\theadlines\t2015\t0004\t2\tb\t\"c\n";

    // a = (1,0), b = (1,0), "c = (0,1), d = (3,4) unnormalised: cosines 1, 0, 0.6, 0 for the four pairs.
    private static readonly Dictionary<string, float[]> Vectors = new()
    {
        ["a"] = [1, 0], ["b"] = [1, 0], ["\"c"] = [0, 1], ["d"] = [3, 4],
    };

    [Fact]
    public void Tiny_file_is_read_with_extra_columns_and_quotes_kept_verbatim()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tiny.csv"), TinyFile);
        var pairs = StsBenchmark.Read(dir.File("tiny.csv"));
        Assert.Equal(4, pairs.Count);
        Assert.Equal(new StsPair("a", "\"c", 1.0, "main-news"), pairs[1]);
        Assert.Equal(new StsPair("a", "d", 4.0, "main-forum"), pairs[2]);
    }

    [Fact]
    public void Evaluate_correlates_cosines_with_scores_as_computed_by_hand()
    {
        // cosines c = 1, 0, 0.6, 0; scores s = 5, 1, 4, 2.
        // Spearman: ranks(c) = 4, 1.5, 3, 1.5 (the two zeros tie over ranks 1 and 2); ranks(s) = 4, 1, 3, 2.
        //   means 2.5: dc = 1.5,-1,0.5,-1; ds = 1.5,-1.5,0.5,-0.5; Sxy = 2.25+1.5+0.25+0.5 = 4.5,
        //   Sxx = 2.25+1+0.25+1 = 4.5, Syy = 2.25+2.25+0.25+0.25 = 5; rho = 4.5/sqrt(22.5) = 3/sqrt(10) ≈ 0.9487.
        // Pearson: mean c = 0.4, mean s = 3; dc = 0.6,-0.4,0.2,-0.4; ds = 2,-2,1,-1;
        //   Sxy = 1.2+0.8+0.2+0.4 = 2.6, Sxx = 0.36+0.16+0.04+0.16 = 0.72, Syy = 10; r = 2.6/sqrt(7.2) ≈ 0.9690.
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tiny.csv"), TinyFile);
        var pairs = StsBenchmark.Read(dir.File("tiny.csv"));
        var embedded = new List<string>();
        var result = StsBenchmark.Evaluate(pairs, texts =>
        {
            embedded.AddRange(texts);
            return [.. texts.Select(t => Vectors[t])];
        });
        Assert.Equal(4, result.Pairs);
        Assert.Equal(3 / Math.Sqrt(10), result.Spearman, 12);
        Assert.Equal(2.6 / Math.Sqrt(7.2), result.Pearson, 12);
        Assert.Equal(["a", "b", "\"c", "d"], embedded); // each distinct sentence embedded once
    }

    [Theory]
    [InlineData("main-news\theadlines\t2015\t0002\t1.0\tonly one sentence", "line 2", "6 tab-separated column(s)")]
    [InlineData("main-news\theadlines\t2015\t0002\tfour\ta\tb", "line 2", "'four' is not a number")]
    [InlineData("main-news\theadlines\t2015\t0002\t5.5\ta\tb", "line 2", "outside 0..5")]
    [InlineData("main-news\theadlines\t2015\t0002\t-0.1\ta\tb", "line 2", "outside 0..5")]
    [InlineData("main-news\theadlines\t2015\t0002\t3\t \tb", "line 2", "sentence 1 (column 6) is empty")]
    public void Malformed_row_is_an_input_error_naming_file_and_line(string badRow, string where, string problem)
    {
        using var dir = new TempDir();
        string path = dir.File("bad.csv");
        File.WriteAllText(path, "main-captions\tMSRvid\t2012test\t0001\t5.000\ta\tb\n" + badRow + "\n");
        var e = Assert.Throws<KeyEmbedException>(() => StsBenchmark.Read(path));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.StartsWith(path + ": " + where + ": ", e.Message);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Missing_or_empty_file_is_an_input_error()
    {
        using var dir = new TempDir();
        var missing = Assert.Throws<KeyEmbedException>(() => StsBenchmark.Read(dir.File("none.csv")));
        Assert.Contains("none.csv: STS file not found", missing.Message);
        File.WriteAllText(dir.File("empty.csv"), "\n");
        var empty = Assert.Throws<KeyEmbedException>(() => StsBenchmark.Read(dir.File("empty.csv")));
        Assert.Contains("no sentence pairs", empty.Message);
    }

    [Fact]
    public void Real_test_split_has_the_pair_count_its_readme_states()
    {
        // ../shared/data/stsbenchmark/README.md: "1379 sentence pairs"; 284 rows carry two extra columns.
        var pairs = StsBenchmark.Read(SharedData.Data("stsbenchmark", "sts-test.csv"));
        Assert.Equal(1379, pairs.Count);
        Assert.Equal("A girl is styling her hair.", pairs[0].Sentence1);
        Assert.Equal(2.5, pairs[0].Score);
        Assert.All(pairs, p => Assert.InRange(p.Score, StsBenchmark.MinScore, StsBenchmark.MaxScore));
    }

    [Theory]
    [InlineData("sts-train.csv", 5749)]
    [InlineData("sts-dev.csv", 1500)]
    public void Real_train_and_dev_splits_have_their_readme_counts(string file, int count)
    {
        Assert.Equal(count, StsBenchmark.Read(SharedData.Data("stsbenchmark", file)).Count);
    }
}
