using System.Text;

namespace KeyEmbed.Bench;

/// <summary>
/// ../shared/golden/minilm-sts-test: the reference vector of every distinct STS test sentence (texts.txt line i ↔
/// row i of vectors.npy, float32 [N, 384]). Used to check that every engine's answers are the reference answers.
/// </summary>
internal sealed class GoldenVectors
{
    private readonly Dictionary<string, float[]> _byText = new(StringComparer.Ordinal);

    private GoldenVectors() { }

    public static GoldenVectors? TryLoad(string folder)
    {
        string texts = Path.Combine(folder, "texts.txt"), npy = Path.Combine(folder, "vectors.npy");
        if (!File.Exists(texts) || !File.Exists(npy)) return null;
        var lines = File.ReadAllLines(texts, Encoding.UTF8);
        var matrix = KeyEmbed.Embedding.NpyFile.Read(npy);
        int rows = (int)matrix.Shape[0], cols = (int)matrix.Shape[1];
        var data = matrix.Data;
        if (rows != lines.Length) throw new InvalidDataException($"{npy}: {rows} rows for {lines.Length} texts");
        var golden = new GoldenVectors();
        for (int i = 0; i < rows; i++) golden._byText[lines[i]] = data.AsSpan(i * cols, cols).ToArray();
        return golden;
    }

    /// <summary>Lowest cosine between the engine's vectors and the reference ones, over the texts the reference has;
    /// an engine measured on a prefix of the workload returned fewer vectors than there are texts.</summary>
    public (double MinCosine, int Compared) Compare(IReadOnlyList<string> texts, float[][] vectors)
    {
        double min = 1;
        int compared = 0;
        for (int i = 0; i < Math.Min(texts.Count, vectors.Length); i++)
            if (_byText.TryGetValue(texts[i], out var reference))
            {
                min = Math.Min(min, KeyEmbed.Evaluation.StsBenchmark.Cosine(vectors[i], reference));
                compared++;
            }
        return (min, compared);
    }
}
