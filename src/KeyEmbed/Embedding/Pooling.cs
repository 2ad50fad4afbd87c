using System.Numerics.Tensors;
using KeyEmbed.Runtime;

namespace KeyEmbed.Embedding;

/// <summary>The real tokens of one row after token-level pooling (<see cref="PoolingMode.None"/>).</summary>
/// <param name="Positions">Sequence positions (0..T-1) of the tokens kept, in order.</param>
/// <param name="Vectors">One vector per kept token, aligned with <paramref name="Positions"/>.</param>
internal sealed record TokenVectors(int[] Positions, float[][] Vectors);

/// <summary>
/// Turns hidden states [B, T, H] plus an attention mask [B, T] (1 = real token, 0 = padding) into one vector per
/// row. Works for either padding side: "first" and "last real" are found from the mask, not assumed.
/// A row with no token left to pool (all padding, or only special tokens when they are excluded) pools to zeros.
/// </summary>
internal static class Pooling
{
    /// <summary>
    /// Pools every row. <paramref name="excludeMask"/> (optional, [B, T], 1 = leave this token out) removes tokens
    /// such as <c>[CLS]</c>/<c>[SEP]</c> from mean and max; first/last pick from the attention mask alone.
    /// </summary>
    public static float[][] Pool(DenseTensor<float> hidden, ReadOnlySpan<long> attentionMask, PoolingMode mode, ReadOnlySpan<long> excludeMask = default)
    {
        var (batch, seq, width) = Dimensions(hidden, attentionMask, excludeMask);
        var result = new float[batch][];
        for (int b = 0; b < batch; b++)
        {
            var rowMask = attentionMask.Slice(b * seq, seq);
            var rowExclude = excludeMask.IsEmpty ? default : excludeMask.Slice(b * seq, seq);
            var rowStates = hidden.Data.AsSpan(b * seq * width, seq * width);
            result[b] = mode switch
            {
                PoolingMode.Mean => Mean(rowStates, rowMask, rowExclude, width),
                PoolingMode.Max => Max(rowStates, rowMask, rowExclude, width),
                PoolingMode.MeanMax => [.. Mean(rowStates, rowMask, rowExclude, width), .. Max(rowStates, rowMask, rowExclude, width)],
                PoolingMode.First => Token(rowStates, rowMask.IndexOfAnyExcept(0L), width),
                PoolingMode.LastReal => Token(rowStates, rowMask.LastIndexOfAnyExcept(0L), width),
                PoolingMode.Cls => throw new ArgumentException("resolve Cls to First or LastReal first (EmbeddingOptions.Resolve)", nameof(mode)),
                PoolingMode.None => throw new ArgumentException("token-level output goes through Pooling.Tokens", nameof(mode)),
                _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
            };
        }
        return result;
    }

    /// <summary>Token-level output: for each row, the vectors of its real tokens (minus excluded ones) and their positions.</summary>
    public static TokenVectors[] Tokens(DenseTensor<float> hidden, ReadOnlySpan<long> attentionMask, ReadOnlySpan<long> excludeMask = default)
    {
        var (batch, seq, width) = Dimensions(hidden, attentionMask, excludeMask);
        var result = new TokenVectors[batch];
        for (int b = 0; b < batch; b++)
        {
            var positions = new List<int>();
            var vectors = new List<float[]>();
            for (int t = 0; t < seq; t++)
            {
                int i = b * seq + t;
                if (!Counts(attentionMask[i], excludeMask.IsEmpty ? 0 : excludeMask[i])) continue;
                positions.Add(t);
                vectors.Add(hidden.Data.AsSpan(i * width, width).ToArray());
            }
            result[b] = new TokenVectors([.. positions], [.. vectors]);
        }
        return result;
    }

    // sentence-transformers: sum(h * mask) / clamp(sum(mask), min=1e-9).
    private static float[] Mean(ReadOnlySpan<float> row, ReadOnlySpan<long> mask, ReadOnlySpan<long> exclude, int width)
    {
        var sum = new float[width];
        int count = 0;
        for (int t = 0; t < mask.Length; t++)
        {
            if (!Counts(mask[t], exclude.IsEmpty ? 0 : exclude[t])) continue;
            TensorPrimitives.Add(sum, row.Slice(t * width, width), sum);
            count++;
        }
        TensorPrimitives.Divide(sum, Math.Max(count, 1e-9f), sum);
        return sum;
    }

    private static float[] Max(ReadOnlySpan<float> row, ReadOnlySpan<long> mask, ReadOnlySpan<long> exclude, int width)
    {
        float[]? max = null;
        for (int t = 0; t < mask.Length; t++)
        {
            if (!Counts(mask[t], exclude.IsEmpty ? 0 : exclude[t])) continue;
            var token = row.Slice(t * width, width);
            if (max == null) max = token.ToArray();
            else TensorPrimitives.Max(max, token, max);
        }
        return max ?? new float[width];
    }

    private static float[] Token(ReadOnlySpan<float> row, int position, int width) =>
        position < 0 ? new float[width] : row.Slice(position * width, width).ToArray();

    private static bool Counts(long attention, long excluded) => attention != 0 && excluded == 0;

    private static (int Batch, int Seq, int Width) Dimensions(DenseTensor<float> hidden, ReadOnlySpan<long> mask, ReadOnlySpan<long> exclude)
    {
        if (hidden.Shape.Length != 3) throw new ArgumentException($"hidden states must be [B, T, H], got {hidden.ShapeText}", nameof(hidden));
        int batch = checked((int)hidden.Shape[0]), seq = checked((int)hidden.Shape[1]), width = checked((int)hidden.Shape[2]);
        if (mask.Length != batch * seq)
            throw new ArgumentException($"attention mask has {mask.Length} entries; hidden states {hidden.ShapeText} need {batch * seq}", nameof(mask));
        if (!exclude.IsEmpty && exclude.Length != batch * seq)
            throw new ArgumentException($"exclude mask has {exclude.Length} entries; hidden states {hidden.ShapeText} need {batch * seq}", nameof(exclude));
        return (batch, seq, width);
    }
}
