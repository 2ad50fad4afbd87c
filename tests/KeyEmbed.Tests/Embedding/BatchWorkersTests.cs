using System.Collections.Concurrent;
using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Embedding;

public sealed class BatchWorkersTests
{
    [Theory]
    [InlineData(0, 2)]
    [InlineData(1, 2)]
    [InlineData(7, 1)]
    [InlineData(7, 2)]
    [InlineData(7, 3)]
    [InlineData(3, 8)]
    public void Every_item_runs_exactly_once(int count, int workers)
    {
        var seen = new ConcurrentBag<int>();
        BatchWorkers.Run(count, workers, seen.Add);
        Assert.Equal(Enumerable.Range(0, count), seen.Order());
    }

    [Fact]
    public void Two_workers_run_at_the_same_time()
    {
        // Each item waits until both have started: with one worker at a time this would time out.
        using var bothStarted = new CountdownEvent(2);
        var waited = new ConcurrentBag<bool>();
        BatchWorkers.Run(2, 2, _ =>
        {
            bothStarted.Signal();
            waited.Add(bothStarted.Wait(TimeSpan.FromSeconds(30)));
        });
        Assert.All(waited, Assert.True);
    }

    [Fact]
    public void A_failure_is_rethrown_unwrapped_and_stops_new_items()
    {
        int ran = 0;
        var error = Assert.Throws<KeyEmbedException>(() => BatchWorkers.Run(1000, 2, item =>
        {
            Interlocked.Increment(ref ran);
            if (item == 3) throw KeyEmbedException.Input("bad batch 3");
            Thread.Sleep(1);
        }));
        Assert.Contains("bad batch 3", error.Message);
        Assert.True(ran < 1000, $"{ran} items ran after the failure");
    }

    [Fact]
    public void Cancellation_stops_the_call()
    {
        using var cancel = new CancellationTokenSource();
        Assert.ThrowsAny<OperationCanceledException>(() => BatchWorkers.Run(1000, 2, item =>
        {
            if (item == 5) cancel.Cancel();
        }, cancel.Token));
    }
}
