using KeyEmbed.Embedding;
using KeyEmbed.Similarity;

namespace KeyEmbed.Tests.Similarity;

public sealed class SimilarityMatrixTests
{
    [Fact]
    public void Matrix_is_symmetric_with_a_unit_diagonal_and_hand_computed_cosines()
    {
        float[][] v = [[1, 0], [0, 2], [3, 4]];
        var s = SimilarityMatrix.Compute(v);
        Assert.Equal(3, s.Count);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(1f, s.Matrix[i][i]);
            for (int j = 0; j < 3; j++) Assert.Equal(s.Matrix[i][j], s.Matrix[j][i]);
        }
        Assert.Equal(0f, s.Matrix[0][1], 6);
        Assert.Equal(0.6f, s.Matrix[0][2], 6);
        Assert.Equal(0.8f, s.Matrix[1][2], 6);
        // Mean vector (4/3, 2): cos with (1,0) = (4/3) / sqrt(16/9 + 4).
        Assert.Equal(4.0 / 3 / Math.Sqrt(16.0 / 9 + 4), s.ToSet[0], 5);
        Assert.Equal((0 + 0.6) / 2, s.MeanPairwise[0], 5);
        Assert.Equal((0.6 + 0.8) / 2, s.MeanPairwise[2], 5);
    }

    [Fact]
    public void Duplicate_keywords_have_similarity_one()
    {
        float[] a = [0.3f, -0.7f, 0.1f];
        var s = SimilarityMatrix.Compute([a, [1, 1, 1], (float[])a.Clone()]);
        Assert.Equal(1f, s.Matrix[0][2], 6);
        Assert.Equal(s.ToSet[0], s.ToSet[2]);
        Assert.True(s.Matrix[0][2] <= 1f);
    }

    [Fact]
    public void Empty_and_single_sets_have_defined_results()
    {
        var empty = SimilarityMatrix.Compute([]);
        Assert.Empty(empty.Matrix);
        Assert.Empty(empty.ToSet);
        var one = SimilarityMatrix.Compute([[2f, 0f]]);
        Assert.Equal([1f], one.Matrix[0]);
        Assert.Equal([1f], one.ToSet);
        Assert.Equal([0f], one.MeanPairwise);
    }

    [Fact]
    public void A_zero_vector_scores_zero_against_everything()
    {
        var s = SimilarityMatrix.Compute([[0f, 0f], [1f, 0f]]);
        Assert.Equal(0f, s.Matrix[0][0]);
        Assert.Equal(0f, s.Matrix[0][1]);
        Assert.Equal(0f, s.ToSet[0]);
        Assert.Equal(1f, s.Matrix[1][1]);
    }

    [Fact]
    public void Nearest_neighbours_are_best_first_with_ties_in_candidate_order()
    {
        float[][] candidates = [[0, 1], [1, 1], [1, 0], [2, 2], [-1, 0]];
        var top = NearestNeighbours.TopK([1, 1], candidates, 3);
        Assert.Equal([1, 3, 0], top.Select(n => n.Index));
        Assert.Equal(1f, top[0].Similarity, 6);
        Assert.Equal(Math.Sqrt(0.5), top[2].Similarity, 5);
        Assert.Equal(5, NearestNeighbours.TopK([1, 1], candidates, 10).Count);
        Assert.Empty(NearestNeighbours.TopK([1, 1], [], 3));
        Assert.Contains("top", Assert.Throws<KeyEmbedException>(() => NearestNeighbours.TopK([1], [[1]], 0)).Message);
    }

    [Fact]
    public void Cosine_of_vectors_of_different_width_is_a_bug()
    {
        Assert.Throws<ArgumentException>(() => VectorMath.Cosine([1f, 2f], [1f]));
        Assert.Throws<ArgumentException>(() => SimilarityMatrix.Compute([[1f, 2f], [1f]]));
    }
}

public sealed class SimilarityOutputTests
{
    [Fact]
    public void Json_has_the_promised_shape_texts_matrix_to_set()
    {
        var s = SimilarityMatrix.Compute([[1f, 0f], [0f, 1f], [1f, 0f]]);
        using var stream = new MemoryStream();
        SimilarityOutput.WriteJson(stream, ["a", "b", "a"], s);
        using var doc = System.Text.Json.JsonDocument.Parse(stream.ToArray());
        var root = doc.RootElement;
        Assert.Equal(["a", "b", "a"], root.GetProperty("texts").EnumerateArray().Select(e => e.GetString()));
        var matrix = root.GetProperty("matrix");
        Assert.Equal(3, matrix.GetArrayLength());
        Assert.Equal(1f, matrix[0][2].GetSingle());
        Assert.Equal(0f, matrix[0][1].GetSingle());
        Assert.Equal(3, root.GetProperty("to_set").GetArrayLength());
        Assert.Equal(s.ToSet[1], root.GetProperty("to_set")[1].GetSingle());
    }

    [Fact]
    public void Csv_is_square_with_quoted_labels()
    {
        var s = SimilarityMatrix.Compute([[1f, 0f], [0f, 1f]]);
        var writer = new StringWriter();
        SimilarityOutput.WriteCsv(writer, ["x, y", "z"], s);
        var lines = writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("text,\"x, y\",z,to_set,mean_pairwise", lines[0]);
        Assert.StartsWith("\"x, y\",1,0,", lines[1]);
        Assert.Equal(3, lines.Length);
    }
}
