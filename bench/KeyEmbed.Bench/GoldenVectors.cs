using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;

namespace KeyEmbed.Bench;

/// <summary>
/// ../shared/golden/minilm-sts-test: the reference vector of every distinct STS test sentence (texts.txt line i ↔
/// row i of vectors.npy, float32 [N, 384]). Used to check that every engine's answers are the reference answers.
/// </summary>
internal sealed partial class GoldenVectors
{
    private readonly Dictionary<string, float[]> _byText = new(StringComparer.Ordinal);

    private GoldenVectors() { }

    public static GoldenVectors? TryLoad(string folder)
    {
        string texts = Path.Combine(folder, "texts.txt"), npy = Path.Combine(folder, "vectors.npy");
        if (!File.Exists(texts) || !File.Exists(npy)) return null;
        var lines = File.ReadAllLines(texts, Encoding.UTF8);
        var (rows, cols, data) = ReadFloat32Matrix(npy);
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

    // .npy v1/v2: magic, version, header length, a Python dict literal header, then the raw little-endian data.
    private static (int Rows, int Cols, float[] Data) ReadFloat32Matrix(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || bytes[0] != 0x93 || Encoding.ASCII.GetString(bytes, 1, 5) != "NUMPY")
            throw new InvalidDataException($"{path}: not a .npy file");
        int major = bytes[6];
        int headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8)) : (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8));
        int headerStart = major == 1 ? 10 : 12;
        string header = Encoding.ASCII.GetString(bytes, headerStart, headerLength);
        var shape = ShapePattern().Match(header);
        if (!header.Contains("'<f4'") || header.Contains("'fortran_order': True") || !shape.Success)
            throw new InvalidDataException($"{path}: expected a C-order float32 matrix, header {header.Trim()}");
        int rows = int.Parse(shape.Groups[1].Value), cols = int.Parse(shape.Groups[2].Value);
        var data = new float[rows * cols];
        Buffer.BlockCopy(bytes, headerStart + headerLength, data, 0, data.Length * sizeof(float));
        return (rows, cols, data);
    }

    [GeneratedRegex(@"'shape':\s*\((\d+),\s*(\d+)\)")]
    private static partial Regex ShapePattern();
}
