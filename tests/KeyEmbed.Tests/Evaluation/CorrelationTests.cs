using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Evaluation;

public sealed class CorrelationTests
{
    [Fact]
    public void Pearson_and_spearman_match_hand_computed_values_without_ties()
    {
        // x = 1..5, y = 2,1,4,3,5: means 3 and 3; dx = -2,-1,0,1,2; dy = -1,-2,1,0,2.
        // Sxy = 2+2+0+0+4 = 8, Sxx = 10, Syy = 10, so r = 8/10 = 0.8. The values are their own ranks: rho = 0.8.
        double[] x = [1, 2, 3, 4, 5], y = [2, 1, 4, 3, 5];
        Assert.Equal(0.8, Correlation.Pearson(x, y), 12);
        Assert.Equal(0.8, Correlation.Spearman(x, y), 12);
    }

    [Fact]
    public void Spearman_gives_tied_values_their_average_rank()
    {
        // x = 1,2,2,3 ranks 1, 2.5, 2.5, 4 (the tie spans ranks 2 and 3); y = 1,3,2,4 ranks 1,3,2,4.
        // Both rank means 2.5: dx = -1.5,0,0,1.5; dy = -1.5,0.5,-0.5,1.5.
        // Sxy = 2.25+0+0+2.25 = 4.5, Sxx = 4.5, Syy = 2.25+0.25+0.25+2.25 = 5, rho = 4.5/sqrt(22.5) = 3/sqrt(10).
        double[] x = [1, 2, 2, 3], y = [1, 3, 2, 4];
        Assert.Equal([1, 2.5, 2.5, 4], Correlation.AverageRanks(x));
        Assert.Equal(3 / Math.Sqrt(10), Correlation.Spearman(x, y), 12);
    }

    [Fact]
    public void Spearman_sees_only_order_while_pearson_sees_distance()
    {
        // x = 1,2,3,4,100 is in the same order as y = 1..5, so rho = 1.
        // Pearson: mean x = 22, dx = -21,-20,-19,-18,78; dy = -2,-1,0,1,2.
        // Sxy = 42+20+0-18+156 = 200, Sxx = 441+400+361+324+6084 = 7610, Syy = 10, r = 200/sqrt(76100).
        double[] x = [1, 2, 3, 4, 100], y = [1, 2, 3, 4, 5];
        Assert.Equal(1.0, Correlation.Spearman(x, y), 12);
        Assert.Equal(200 / Math.Sqrt(76100), Correlation.Pearson(x, y), 12);
    }

    [Fact]
    public void Reversed_order_gives_minus_one()
    {
        double[] x = [0.1, 0.5, 0.9], y = [3, 2, 1];
        Assert.Equal(-1.0, Correlation.Spearman(x, y), 12);
    }

    [Fact]
    public void Constant_input_gives_nan_rather_than_a_number()
    {
        double[] constant = [2, 2, 2], varying = [1, 2, 3];
        Assert.True(double.IsNaN(Correlation.Pearson(constant, varying)));
        Assert.True(double.IsNaN(Correlation.Spearman(varying, constant)));
    }

    [Fact]
    public void Fewer_than_two_pairs_is_an_input_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Correlation.Spearman([1.0], [2.0]));
        Assert.Equal(ErrorKind.InvalidInput, e.Kind);
        Assert.Contains("at least 2 pairs, got 1", e.Message);
    }

    [Fact]
    public void Non_finite_value_is_an_input_error_naming_the_pair()
    {
        var e = Assert.Throws<KeyEmbedException>(() => Correlation.Pearson([1, double.NaN, 3], [1, 2, 3]));
        Assert.Contains("pair 1", e.Message);
    }

    [Fact]
    public void Lists_of_different_length_are_a_bug()
    {
        Assert.Throws<ArgumentException>(() => Correlation.Pearson([1, 2, 3], [1, 2]));
    }
}
