using KeyEmbed.Similarity;

namespace KeyEmbed.Tests.Similarity;

public sealed class NearestNeighboursTests
{
    [Fact]
    public void Top_k_ranks_candidates_by_cosine_and_keeps_order_on_ties()
    {
        float[] query = [1, 0];
        // cosines to the query: 0, 1, 1/√2, 1 (the last a tie with candidate 1, given later).
        float[][] candidates = [[0, 1], [2, 0], [1, 1], [5, 0]];
        var top = NearestNeighbours.TopK(query, candidates, 3);
        Assert.Equal([1, 3, 2], top.Select(n => n.Index));
        Assert.Equal(1f, top[0].Similarity, 6);
        Assert.Equal(1 / MathF.Sqrt(2), top[2].Similarity, 6);
    }

    [Fact]
    public void Top_k_below_one_is_a_clear_error()
    {
        var e = Assert.Throws<KeyEmbedException>(() => NearestNeighbours.TopK([1f], [[1f]], 0));
        Assert.Contains("top", e.Message);
    }

    [Fact]
    public void Top_of_a_matrix_row_leaves_out_the_rows_own_item()
    {
        float[] row = [1f, 0.2f, 0.9f, 0.9f, -0.5f];
        var top = NearestNeighbours.TopOfRow(row, 3, exclude: 0);
        Assert.Equal([2, 3, 1], top.Select(n => n.Index));
        Assert.Equal([0.9f, 0.9f, 0.2f], top.Select(n => n.Similarity));
    }
}
