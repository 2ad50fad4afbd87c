using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class BatchPlannerTests
{
    [Fact]
    public void Every_batch_stays_within_the_budget_and_row_limit_and_every_input_is_planned_once()
    {
        var rng = new Random(7);
        var lengths = Enumerable.Range(0, 1000).Select(_ => rng.Next(1, 200)).ToArray();
        var plan = BatchPlanner.Plan(lengths, tokenBudget: 2048, maxBatchSize: 32);
        foreach (var batch in plan.Batches)
        {
            Assert.True(batch.PaddedTokens <= 2048, $"batch of {batch.Indexes.Length} × {batch.PaddedLength}");
            Assert.True(batch.Indexes.Length <= 32);
            Assert.Equal(batch.Indexes.Max(i => lengths[i]), batch.PaddedLength);
        }
        Assert.Equal(Enumerable.Range(0, 1000), plan.Batches.SelectMany(b => b.Indexes).Order());
    }

    [Fact]
    public void Batches_run_longest_first_and_restore_puts_results_back_in_the_callers_order()
    {
        int[] lengths = [5, 50, 5, 20, 50, 1];
        var plan = BatchPlanner.Plan(lengths, tokenBudget: 100, maxBatchSize: 8);
        Assert.Equal([1, 4], plan.Batches[0].Indexes);
        // Equal lengths keep the caller's order (0 before 2).
        var flat = plan.Batches.SelectMany(b => b.Indexes).ToArray();
        Assert.True(Array.IndexOf(flat, 0) < Array.IndexOf(flat, 2));
        var perBatch = plan.Batches.Select(b => (IReadOnlyList<string>)[.. b.Indexes.Select(i => $"text{i}")]).ToList();
        Assert.Equal(["text0", "text1", "text2", "text3", "text4", "text5"], plan.Restore(perBatch));
    }

    [Fact]
    public void A_hundred_thousand_short_keywords_plan_into_full_batches_and_restore_in_order()
    {
        var lengths = Enumerable.Range(0, 100_000).Select(i => 3 + i % 5).ToArray();
        var plan = BatchPlanner.Plan(lengths, tokenBudget: 8192, maxBatchSize: 256);
        Assert.All(plan.Batches, b => Assert.True(b.PaddedTokens <= 8192 && b.Indexes.Length <= 256));
        Assert.True(plan.Batches.Count <= 100_000 / 256 + 5);
        var perBatch = plan.Batches.Select(b => (IReadOnlyList<int>)b.Indexes).ToList();
        Assert.Equal(Enumerable.Range(0, 100_000), plan.Restore(perBatch));
    }

    [Fact]
    public void A_score_budget_cuts_long_rows_into_small_batches_and_leaves_short_rows_alone()
    {
        var rng = new Random(9);
        // Paragraph-length rows and keyword-length rows in one call.
        var lengths = Enumerable.Range(0, 400).Select(i => i % 2 == 0 ? rng.Next(200, 257) : rng.Next(3, 9)).ToArray();
        const long scoreBudget = 2 * 256 * 256;
        var plan = BatchPlanner.Plan(lengths, tokenBudget: 8192, maxBatchSize: 64, scoreBudget);
        var without = BatchPlanner.Plan(lengths, tokenBudget: 8192, maxBatchSize: 64);
        Assert.All(plan.Batches, b => Assert.True((long)b.Indexes.Length * b.PaddedLength * b.PaddedLength <= scoreBudget || b.Indexes.Length == 1,
            $"batch of {b.Indexes.Length} × {b.PaddedLength}"));
        // Long rows: at most 2 (or 3 below 210 tokens) a batch instead of up to 32.
        Assert.All(plan.Batches.Where(b => b.PaddedLength >= 200), b => Assert.InRange(b.Indexes.Length, 1, 3));
        Assert.Contains(without.Batches, b => b.PaddedLength >= 200 && b.Indexes.Length > 3);
        // Short rows still fill whole batches (the row limit, not the score budget, cuts them).
        var shortBatches = plan.Batches.Where(b => b.PaddedLength < 10).ToList();
        Assert.All(shortBatches.SkipLast(1), b => Assert.Equal(64, b.Indexes.Length));
        Assert.Equal(Enumerable.Range(0, 400), plan.Batches.SelectMany(b => b.Indexes).Order());
    }

    [Fact]
    public void An_input_longer_than_the_budget_gets_a_batch_of_its_own()
    {
        var plan = BatchPlanner.Plan([10, 500, 10], tokenBudget: 100, maxBatchSize: 8);
        Assert.Equal([1], plan.Batches[0].Indexes);
        Assert.Equal(2, plan.Batches.Count);
    }

    [Fact]
    public void No_inputs_make_no_batches_and_bad_limits_are_input_errors()
    {
        Assert.Empty(BatchPlanner.Plan([], 100, 8).Batches);
        Assert.Equal(ErrorKind.InvalidInput, Assert.Throws<KeyEmbedException>(() => BatchPlanner.Plan([1], 0, 8)).Kind);
        Assert.Contains("batch size", Assert.Throws<KeyEmbedException>(() => BatchPlanner.Plan([1], 10, 0)).Message);
    }
}
