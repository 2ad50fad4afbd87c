using System.Text;
using KeyEmbed.Embedding;
using KeyEmbed.Evaluation;

namespace KeyEmbed.Tests.Evaluation;

public sealed class StsGoldenTests
{
    [Fact]
    public void Reference_vectors_reach_the_published_spearman_on_the_test_split()
    {
        // golden/minilm-sts-test holds the all-MiniLM-L6-v2 vector of every distinct test sentence (whitespace runs
        // collapsed). MTEB publishes 82.03 (cosine Spearman × 100) for all-MiniLM-L6-v2 on this split; the issue asks
        // for that within 0.5, and the fixed reference vectors should give it to its two published decimals.
        string folder = SharedData.Golden("minilm-sts-test");
        string[] texts = File.ReadAllLines(Path.Combine(folder, "texts.txt"), Encoding.UTF8);
        float[][] vectors = ReadNpyRows(Path.Combine(folder, "vectors.npy"));
        var byText = texts.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => vectors[p.i], StringComparer.Ordinal);

        var pairs = StsBenchmark.Read(SharedData.Data("stsbenchmark", "sts-test.csv"));
        var result = StsBenchmark.Evaluate(pairs, batch => [.. batch.Select(s => byText[Collapse(s)])]);

        Assert.Equal(1379, result.Pairs);
        Assert.InRange(result.Spearman * 100, 82.03 - 0.5, 82.03 + 0.5);
        Assert.Equal(82.03, result.Spearman * 100, 2);
        Assert.InRange(result.Pearson, 0.5, 1.0);
    }

    private static string Collapse(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    private static float[][] ReadNpyRows(string path)
    {
        var matrix = NpyFile.Read(path);
        int rows = (int)matrix.Shape[0], cols = (int)matrix.Shape[1];
        return [.. Enumerable.Range(0, rows).Select(r => matrix.Data.AsSpan(r * cols, cols).ToArray())];
    }
}
