using KeyEmbed.Checkpoints;

namespace KeyEmbed.Architectures.Bert;

/// <summary>
/// How large each channel of a quantized projection's input is expected to be, per encoder layer: the Q/K/V input
/// (the previous LayerNorm's output), the feed-forward up input (the attention LayerNorm's output) and the
/// feed-forward down input (the activation's output). Relative figures; larger = more likely to set the range of
/// the per-tensor activation quantization.
/// </summary>
internal sealed record BertInt8InputSizes(double[] AttentionInput, double[] UpInput, double[] DownInput);

/// <summary>
/// Estimates <see cref="BertInt8InputSizes"/> from the weights alone (no text is run): the per-channel RMS of the
/// embedding LayerNorm's output over the whole vocabulary, carried through each layer assuming independent inputs.
/// A linear map's output channel gets RMS² = Σ W² · RMS²(input) + bias², a residual sum adds RMS², a LayerNorm
/// rescales to unit mean square, then γ and β. For the down input, the upper tail of the activation's input
/// (bias + 3 standard deviations) is taken, since GELU passes large positive values through and caps negative ones.
/// Crude, but it finds the few loud residual channels BERT models carry (all-MiniLM-L6-v2: 99, 223, …) that the
/// LayerNorm weights alone do not reveal.
/// </summary>
internal static class BertInt8InputEstimate
{
    // GELU's output RMS relative to its input's, for a roughly zero-mean Gaussian input.
    private const double ActivationGain = 0.6;

    // How far into the upper tail of the down projection's pre-activation a channel's size is read.
    private const double TailDeviations = 3;

    public static IReadOnlyList<BertInt8InputSizes> Estimate(BertConfig c, WeightScope weights) => Estimate(c, BertVariant.Bert, weights);

    /// <summary>The estimate for a BERT-family member (embedding width and projection, positions, shared blocks).</summary>
    public static IReadOnlyList<BertInt8InputSizes> Estimate(BertConfig c, BertVariant variant, WeightScope weights)
    {
        int h = c.HiddenSize, f = c.IntermediateSize;
        var x = EmbeddingRms(c, variant, weights);
        if (variant.EmbeddingSize is { } width && !variant.ProjectsWordsOnly)
            x = LinearRms(weights.Tensor("embeddings_project.weight", h, width), weights.Tensor("embeddings_project.bias", h), x, h, width);
        var layers = new BertInt8InputSizes[c.LayerCount * variant.BlocksPerLayer];
        for (int l = 0; l < layers.Length; l++)
        {
            var w = weights.Prefix($"encoder.layer.{l}");
            // The attention context is a weighted average of value rows: its RMS is taken as the value's (an upper bound).
            var value = LinearRms(w.Tensor("attention.self.value.weight", h, h), w.Tensor("attention.self.value.bias", h), x, h, h);
            var attention = LinearRms(w.Tensor("attention.output.dense.weight", h, h), w.Tensor("attention.output.dense.bias", h), value, h, h);
            var upInput = NormRms(x, attention, w.Tensor("attention.output.LayerNorm.weight", h), w.Tensor("attention.output.LayerNorm.bias", h));
            var upBias = w.Tensor("intermediate.dense.bias", f);
            var upSpread = LinearRms(w.Tensor("intermediate.dense.weight", f, h), new float[f], upInput, f, h);
            var downInput = new double[f];
            var activation = new double[f];
            for (int j = 0; j < f; j++)
            {
                downInput[j] = upBias[j] + TailDeviations * upSpread[j];
                activation[j] = ActivationGain * Math.Sqrt(upSpread[j] * upSpread[j] + upBias[j] * (double)upBias[j]);
            }
            var down = LinearRms(w.Tensor("output.dense.weight", h, f), w.Tensor("output.dense.bias", h), activation, h, f);
            layers[l] = new BertInt8InputSizes(x, upInput, downInput);
            x = NormRms(upInput, down, w.Tensor("output.LayerNorm.weight", h), w.Tensor("output.LayerNorm.bias", h));
        }
        return layers;
    }

    // Per channel, the RMS of LayerNorm(word + position + token type 0) over every vocabulary entry, the larger of
    // position 0's and position 1's: position 0 (the start token's, in every sequence) can carry its own loud channel.
    // RoBERTa's first two positions are pad_token_id + 1 and + 2; a family without token types adds none.
    private static double[] EmbeddingRms(BertConfig c, BertVariant variant, WeightScope weights)
    {
        var e = weights.Prefix("embeddings");
        int h = variant.ProjectsWordsOnly ? c.HiddenSize : variant.EmbeddingSize ?? c.HiddenSize;
        var words = variant.ProjectsWordsOnly ? ProjectedWords(c, variant.EmbeddingSize!.Value, weights) : e.Tensor("word_embeddings.weight", c.VocabSize, h);
        var positions = e.Tensor("position_embeddings.weight", c.MaxPositions, h);
        var types = variant.TokenTypes ? e.Tensor("token_type_embeddings.weight", c.TypeVocabSize, h) : new float[h];
        int first = variant.Positions == BertPositions.AfterPadding ? (int)variant.PaddingId + 1 : 0;
        var gamma = e.Tensor("LayerNorm.weight", h);
        var beta = e.Tensor("LayerNorm.bias", h);
        var result = new double[h];
        var row = new double[h];
        foreach (int position in new[] { Math.Min(first, c.MaxPositions - 1), Math.Min(first + 1, c.MaxPositions - 1) })
        {
            var sumSquares = new double[h];
            for (int v = 0; v < c.VocabSize; v++)
            {
                double mean = 0;
                for (int i = 0; i < h; i++) { row[i] = words[v * h + i] + positions[position * h + i] + types[i]; mean += row[i]; }
                mean /= h;
                double variance = 0;
                for (int i = 0; i < h; i++) variance += (row[i] - mean) * (row[i] - mean);
                double inverse = 1 / Math.Sqrt(variance / h + c.LayerNormEps);
                for (int i = 0; i < h; i++)
                {
                    double y = (row[i] - mean) * inverse * gamma[i] + beta[i];
                    sumSquares[i] += y * y;
                }
            }
            for (int i = 0; i < h; i++) result[i] = Math.Max(result[i], Math.Sqrt(sumSquares[i] / c.VocabSize));
        }
        return result;
    }

    // albert_zh: every word embedding row projected to the hidden size (embeddings_project [H, E], no bias), as the graph does.
    private static float[] ProjectedWords(BertConfig c, int width, WeightScope weights)
    {
        int h = c.HiddenSize;
        var words = weights.Tensor("embeddings.word_embeddings.weight", c.VocabSize, width);
        var projection = weights.Tensor("embeddings_project.weight", h, width);
        var result = new float[c.VocabSize * h];
        for (int v = 0; v < c.VocabSize; v++)
            for (int o = 0; o < h; o++)
            {
                double sum = 0;
                for (int i = 0; i < width; i++) sum += words[v * width + i] * (double)projection[o * width + i];
                result[v * h + o] = (float)sum;
            }
        return result;
    }

    // nn.Linear with W [outputs, inputs] (checkpoint layout) over independent inputs of the given RMS.
    private static double[] LinearRms(float[] w, float[] bias, double[] input, int outputs, int inputs)
    {
        var result = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = bias[o] * (double)bias[o];
            for (int i = 0; i < inputs; i++)
            {
                double term = w[o * inputs + i] * input[i];
                sum += term * term;
            }
            result[o] = Math.Sqrt(sum);
        }
        return result;
    }

    // LayerNorm(residual + sublayer): the sum's channels scaled to unit mean square, then γ and β.
    private static double[] NormRms(double[] residual, double[] sublayer, float[] gamma, float[] beta)
    {
        int h = residual.Length;
        var squares = new double[h];
        for (int i = 0; i < h; i++) squares[i] = residual[i] * residual[i] + sublayer[i] * sublayer[i];
        double meanSquare = squares.Average();
        var result = new double[h];
        for (int i = 0; i < h; i++) result[i] = Math.Sqrt(gamma[i] * (double)gamma[i] * squares[i] / meanSquare + beta[i] * (double)beta[i]);
        return result;
    }
}
