using System.Diagnostics;

namespace KeyEmbed.Bench;

/// <summary>
/// Peak working set while embedding many keywords through the facade in one call (the worst case: every vector
/// held at the end), as the process reports it (<see cref="Process.PeakWorkingSet64"/>, VmHWM on Linux).
/// </summary>
internal static class MemoryProbe
{
    public static void Run(List<string> sentences, int count, int threads, TextWriter output)
    {
        // Distinct keywords: word 1–3-grams of the sentences, numbered once the n-grams run out.
        var grams = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var sentence in sentences)
        {
            var words = sentence.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            for (int n = 1; n <= 3; n++)
                for (int i = 0; i + n <= words.Length; i++)
                {
                    string gram = string.Join(' ', words, i, n);
                    if (seen.Add(gram)) grams.Add(gram);
                }
        }
        var keywords = Enumerable.Range(0, count).Select(i => i < grams.Count ? grams[i] : $"{grams[i % grams.Count]} {i / grams.Count}").ToList();
        using var model = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { Threads = threads, CacheBytes = 0 });
        var process = Process.GetCurrentProcess();
        process.Refresh();
        long before = process.PeakWorkingSet64;
        var sw = Stopwatch.StartNew();
        var result = model.Embed(keywords);
        sw.Stop();
        process.Refresh();
        output.WriteLine($"{count:N0} keywords ({result.Tokens.Average():F1} tokens on average) in {sw.Elapsed.TotalSeconds:F1} s " +
            $"({count / sw.Elapsed.TotalSeconds:N0} texts/s); peak working set {process.PeakWorkingSet64 / 1048576.0:F0} MiB " +
            $"(before embedding: {before / 1048576.0:F0} MiB); vectors held: {result.Vectors.Length:N0} × {result.Vectors[0].Length}");
    }
}
