using Google.Protobuf;
using KeyEmbed.Architectures;
using KeyEmbed.Evaluation;
using KeyEmbed.Models;

namespace KeyEmbed.Bench;

/// <summary>
/// <c>-- int8-accuracy</c>: the int8 graph's sentence vectors against KeyEmbed's float32 ones over every distinct STS
/// test sentence (mean and lowest cosine, share at or above 0.99), both STS Spearmans, and the int8 graph's operator
/// counts as built and after ORT's optimizer. An accuracy probe: nothing is timed.
/// </summary>
internal static class Int8Accuracy
{
    public static void Run(string stsPath, TextWriter output)
    {
        var sentences = Workloads.DistinctSentences(stsPath);
        var pairs = StsBenchmark.Read(stsPath);
        using var fp32 = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions { UseGraphCache = false });
        var reference = fp32.Embed(sentences).Vectors;
        double Spearman(KeyEmbedModel model) => StsBenchmark.Evaluate(pairs, texts => [.. model.Embed(texts).Vectors]).Spearman * 100;
        output.WriteLine($"float32: STS Spearman × 100 {Spearman(fp32):F2}");
        using var model = LoadedModel.Open("minilm");
        int last = model.Architecture.LayerCount;
        // The plain int8 graph (what the pipeline runs) and the one with ORT's fused kernels and attention.
        foreach (bool fused in new[] { false, true })
        {
            using var int8 = KeyEmbedModel.Load("minilm", new KeyEmbedModelOptions
                { ComputePrecision = ComputePrecision.Int8, UseGraphCache = false, FusedOperators = fused, FusedAttention = fused });
            var cosines = int8.Embed(sentences).Vectors.Select((v, i) => StsBenchmark.Cosine(v, reference[i])).ToArray();
            string form = fused ? "int8 fused graph" : "int8 plain graph";
            output.WriteLine($"{form} vs float32 over {cosines.Length} sentences: mean cosine {cosines.Average():F4}, lowest {cosines.Min():F4}, " +
                $"{cosines.Count(c => c >= 0.99) * 100.0 / cosines.Length:F1}% ≥ 0.99; STS Spearman × 100 {Spearman(int8):F2}");
            GraphOps.Describe(output, form + ", pooled", model.Architecture.BuildGraph(new GraphRequest(last, [last])
                { Precision = ComputePrecision.Int8, Pooling = GraphPooling.MaskedMean, FusedOperators = fused, FusedAttention = fused }).ToByteArray());
        }
    }
}
