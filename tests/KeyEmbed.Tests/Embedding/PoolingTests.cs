using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class PoolingTests
{
    private static readonly GoldenHiddenStates Bert = GoldenHiddenStates.Bert;
    private static readonly GoldenHiddenStates XLNet = GoldenHiddenStates.XLNet;

    // BERT's [CLS] = 2 and [SEP] = 3 in the golden vocab; XLNet's <cls> = 3, <sep> = 4.
    private static readonly long[] BertSpecialIds = [2, 3];
    private static readonly long[] XLNetSpecialIds = [3, 4];

    [Fact]
    public void Masked_mean_of_hidden_states_2_equals_a_plain_loop_over_real_tokens()
    {
        var pooled = Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean);
        Assert.Equal(Bert.Batch, pooled.Length);
        for (int b = 0; b < Bert.Batch; b++)
        {
            var expected = LoopMean(Bert, 2, b, t => Bert.AttentionMask[b * Bert.Seq + t] == 1);
            AssertClose(expected, pooled[b]);
        }
        // Row 1 has 4 real tokens of 17: a mean over all positions would differ.
        var unmasked = LoopMean(Bert, 2, 1, _ => true);
        Assert.True(MaxDiff(unmasked, pooled[1]) > 1e-3);
    }

    [Fact]
    public void Max_pooling_takes_the_largest_value_among_real_tokens_only()
    {
        var pooled = Pooling.Pool(Bert.States[3], Bert.AttentionMask, PoolingMode.Max);
        for (int b = 0; b < Bert.Batch; b++)
        {
            var expected = new float[Bert.Hidden];
            for (int h = 0; h < Bert.Hidden; h++)
            {
                float max = float.NegativeInfinity;
                for (int t = 0; t < Bert.Seq; t++)
                    if (Bert.AttentionMask[b * Bert.Seq + t] == 1) max = Math.Max(max, Bert.At(3, b, t, h));
                expected[h] = max;
            }
            Assert.Equal(expected, pooled[b]);
        }
    }

    [Fact]
    public void Mean_max_is_the_mean_followed_by_the_max()
    {
        var both = Pooling.Pool(Bert.States[1], Bert.AttentionMask, PoolingMode.MeanMax);
        var mean = Pooling.Pool(Bert.States[1], Bert.AttentionMask, PoolingMode.Mean);
        var max = Pooling.Pool(Bert.States[1], Bert.AttentionMask, PoolingMode.Max);
        for (int b = 0; b < Bert.Batch; b++)
        {
            Assert.Equal(2 * Bert.Hidden, both[b].Length);
            Assert.Equal(mean[b], both[b][..Bert.Hidden]);
            Assert.Equal(max[b], both[b][Bert.Hidden..]);
        }
    }

    [Fact]
    public void First_token_pooling_on_right_padded_BERT_is_position_0_the_CLS()
    {
        var pooled = Pooling.Pool(Bert.States[3], Bert.AttentionMask, PoolingMode.First);
        for (int b = 0; b < Bert.Batch; b++)
        {
            Assert.Equal(2, Bert.InputIds[b * Bert.Seq]);
            Assert.Equal(Enumerable.Range(0, Bert.Hidden).Select(h => Bert.At(3, b, 0, h)), pooled[b]);
        }
    }

    [Fact]
    public void Last_real_token_on_left_padded_XLNet_is_the_cls_at_the_last_position()
    {
        var pooled = Pooling.Pool(XLNet.States[3], XLNet.AttentionMask, PoolingMode.LastReal);
        int last = XLNet.Seq - 1;
        for (int b = 0; b < XLNet.Batch; b++)
        {
            Assert.Equal(3, XLNet.InputIds[b * XLNet.Seq + last]);
            Assert.Equal(Enumerable.Range(0, XLNet.Hidden).Select(h => XLNet.At(3, b, last, h)), pooled[b]);
        }
    }

    [Fact]
    public void Last_real_token_on_right_padded_BERT_is_the_final_SEP_not_the_padding()
    {
        var pooled = Pooling.Pool(Bert.States[3], Bert.AttentionMask, PoolingMode.LastReal);
        // Row 1: [CLS] tiny test [SEP] then 13 pads; the last real position is 3.
        Assert.Equal(3, Bert.InputIds[1 * Bert.Seq + 3]);
        Assert.Equal(Enumerable.Range(0, Bert.Hidden).Select(h => Bert.At(3, 1, 3, h)), pooled[1]);
    }

    [Fact]
    public void First_token_on_left_padded_XLNet_skips_the_padding()
    {
        var pooled = Pooling.Pool(XLNet.States[2], XLNet.AttentionMask, PoolingMode.First);
        // Row 1 is padded by 6 on the left: its first real token is at position 6.
        Assert.Equal(Enumerable.Range(0, XLNet.Hidden).Select(h => XLNet.At(2, 1, 6, h)), pooled[1]);
    }

    [Fact]
    public void Mean_on_left_padded_XLNet_averages_only_the_real_tokens()
    {
        var pooled = Pooling.Pool(XLNet.States[3], XLNet.AttentionMask, PoolingMode.Mean);
        for (int b = 0; b < XLNet.Batch; b++)
            AssertClose(LoopMean(XLNet, 3, b, t => XLNet.AttentionMask[b * XLNet.Seq + t] == 1), pooled[b]);
    }

    [Fact]
    public void Excluding_special_tokens_leaves_CLS_and_SEP_out_of_the_mean()
    {
        var special = Bert.SpecialMask(BertSpecialIds);
        var pooled = Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean, special);
        for (int b = 0; b < Bert.Batch; b++)
        {
            var expected = LoopMean(Bert, 2, b, t => Bert.AttentionMask[b * Bert.Seq + t] == 1 && !BertSpecialIds.Contains(Bert.InputIds[b * Bert.Seq + t]));
            AssertClose(expected, pooled[b]);
        }
        var withSpecial = Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean);
        Assert.True(MaxDiff(withSpecial[1], pooled[1]) > 1e-3);
    }

    [Fact]
    public void Excluding_special_tokens_on_XLNet_leaves_sep_and_cls_out_of_the_max()
    {
        var special = XLNet.SpecialMask(XLNetSpecialIds);
        var pooled = Pooling.Pool(XLNet.States[1], XLNet.AttentionMask, PoolingMode.Max, special);
        for (int b = 0; b < XLNet.Batch; b++)
            for (int h = 0; h < XLNet.Hidden; h++)
            {
                float max = float.NegativeInfinity;
                for (int t = 0; t < XLNet.Seq; t++)
                {
                    int i = b * XLNet.Seq + t;
                    if (XLNet.AttentionMask[i] == 1 && !XLNetSpecialIds.Contains(XLNet.InputIds[i])) max = Math.Max(max, XLNet.At(1, b, t, h));
                }
                Assert.Equal(max, pooled[b][h]);
            }
    }

    [Fact]
    public void Token_level_output_keeps_real_tokens_with_their_positions()
    {
        var tokens = Pooling.Tokens(XLNet.States[3], XLNet.AttentionMask, XLNet.SpecialMask(XLNetSpecialIds));
        // Row 2: 4 pads, then 5 words, <sep>, <cls> → the 5 words at positions 4..8.
        Assert.Equal([4, 5, 6, 7, 8], tokens[2].Positions);
        for (int j = 0; j < 5; j++)
            Assert.Equal(Enumerable.Range(0, XLNet.Hidden).Select(h => XLNet.At(3, 2, 4 + j, h)), tokens[2].Vectors[j]);
        var all = Pooling.Tokens(Bert.States[0], Bert.AttentionMask);
        Assert.Equal([17, 4, 14], all.Select(r => r.Positions.Length));
    }

    [Fact]
    public void A_row_with_nothing_to_pool_gives_a_zero_vector()
    {
        var hidden = new KeyEmbed.Runtime.DenseTensor<float>([1, 2, 3, 4], [1, 2, 2]);
        long[] mask = [1, 1];
        long[] allSpecial = [1, 1];
        Assert.Equal([0f, 0f], Pooling.Pool(hidden, mask, PoolingMode.Mean, allSpecial)[0]);
        Assert.Equal([0f, 0f], Pooling.Pool(hidden, mask, PoolingMode.Max, allSpecial)[0]);
        Assert.Equal([0f, 0f], Pooling.Pool(hidden, [0, 0], PoolingMode.LastReal)[0]);
        Assert.Equal([2f, 3f], Pooling.Pool(hidden, mask, PoolingMode.Mean)[0]);
    }

    [Fact]
    public void Token_weighted_mean_of_window_means_equals_the_mean_over_the_whole_row()
    {
        // Row 0 of the BERT golden case split into windows of positions 0..6 and 7..16, as a long text is windowed.
        var whole = Pooling.Pool(Bert.States[2], Bert.AttentionMask, PoolingMode.Mean)[0];
        long[] first = [.. Bert.AttentionMask.Select((m, i) => i < 7 ? m : 0)];
        long[] second = [.. Bert.AttentionMask.Select((m, i) => i is >= 7 and < 17 ? m : 0)];
        var a = Pooling.Pool(Bert.States[2], first, PoolingMode.Mean)[0];
        var b = Pooling.Pool(Bert.States[2], second, PoolingMode.Mean)[0];
        var combined = VectorMath.WeightedMean([a, b], [7, 10]);
        Assert.True(MaxDiff(whole, combined) < 1e-6);
        Assert.True(MaxDiff(whole, VectorMath.Mean([a, b])) > 1e-4);
    }

    [Fact]
    public void A_mask_of_the_wrong_size_is_a_bug_caught_early()
    {
        Assert.Throws<ArgumentException>(() => Pooling.Pool(Bert.States[0], new long[5], PoolingMode.Mean));
    }

    private static double[] LoopMean(GoldenHiddenStates g, int layer, int b, Func<int, bool> include)
    {
        var sum = new double[g.Hidden];
        int count = 0;
        for (int t = 0; t < g.Seq; t++)
        {
            if (!include(t)) continue;
            count++;
            for (int h = 0; h < g.Hidden; h++) sum[h] += g.At(layer, b, t, h);
        }
        return [.. sum.Select(s => s / count)];
    }

    private static double MaxDiff(IReadOnlyList<double> a, IReadOnlyList<float> b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max();

    private static double MaxDiff(IReadOnlyList<float> a, IReadOnlyList<float> b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();

    private static void AssertClose(IReadOnlyList<double> expected, IReadOnlyList<float> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        Assert.True(MaxDiff(expected, actual) < 1e-5, $"max difference {MaxDiff(expected, actual)}");
    }
}
