using KeyEmbed.Embedding;
using KeyEmbed.Server;
using KeyEmbed.Server.Batching;
using KeyEmbed.Server.Metrics;
using Microsoft.Extensions.Logging.Abstractions;

namespace KeyEmbed.Tests.Server;

public sealed class DynamicBatcherTests
{
    private static DynamicBatcher Start(FakeBackend backend, int maxTokens = 1000, int maxQueue = 100, int waitMs = 2)
    {
        var batcher = new DynamicBatcher(Task.FromResult<IEmbeddingBackend>(backend),
            new BatcherSettings(maxTokens, TimeSpan.FromMilliseconds(waitMs), maxQueue), new ServerMetrics(), NullLogger<DynamicBatcher>.Instance);
        batcher.StartAsync(CancellationToken.None).GetAwaiter().GetResult();
        return batcher;
    }

    /// <summary>Holds the worker inside a first batch so that what follows is queued, and returns that first task.</summary>
    private static async Task<Task<float[][]>> Occupy(DynamicBatcher batcher, FakeBackend backend)
    {
        var first = batcher.EmbedAsync(["occupy"], 3, EmbeddingOptions.Default, CancellationToken.None);
        Assert.True(await backend.Started.WaitAsync(TimeSpan.FromSeconds(10)));
        return first;
    }

    [Fact]
    public async Task Requests_with_different_options_never_share_a_batch()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend);
        var first = await Occupy(batcher, backend);
        var max = EmbeddingOptions.Default with { Pooling = PoolingMode.Max };

        var tasks = new[]
        {
            batcher.EmbedAsync(["a"], 3, EmbeddingOptions.Default, CancellationToken.None),
            batcher.EmbedAsync(["b"], 3, max, CancellationToken.None),
            batcher.EmbedAsync(["c"], 3, EmbeddingOptions.Default with { Layers = [-1] }, CancellationToken.None),
            batcher.EmbedAsync(["d"], 3, max with { Layers = [-1] }, CancellationToken.None),
        };
        gate.Set();
        await first;
        var results = await Task.WhenAll(tasks);

        // Layers [-1] differ from the null default, and pooling max from the default pooling: four option sets, four batches.
        Assert.Equal([1, 1, 1, 1, 1], backend.Batches);
        Assert.Equal(backend.Embed("b", max), results[1][0]);
        await batcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Equal_options_share_a_batch_and_each_caller_gets_its_own_vectors_in_order()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend);
        var first = await Occupy(batcher, backend);
        var layers = new EmbeddingOptions { Layers = [-2, -1] };

        var one = batcher.EmbedAsync(["x", "y"], 6, layers, CancellationToken.None);
        var two = batcher.EmbedAsync(["z"], 3, new EmbeddingOptions { Layers = [-2, -1] }, CancellationToken.None);
        gate.Set();
        await first;

        Assert.Equal([backend.Embed("x", layers), backend.Embed("y", layers)], await one);
        Assert.Equal([backend.Embed("z", layers)], await two);
        Assert.Equal([1, 3], backend.Batches);
        await batcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task The_token_budget_splits_a_queue_into_several_batches()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend, maxTokens: 7);
        var first = await Occupy(batcher, backend);

        var tasks = Enumerable.Range(0, 5).Select(i => batcher.EmbedAsync([$"t{i}"], 3, EmbeddingOptions.Default, CancellationToken.None)).ToArray();
        gate.Set();
        await first;
        await Task.WhenAll(tasks);

        // 3 tokens each within a budget of 7: two per batch.
        Assert.Equal([1, 2, 2, 1], backend.Batches);
        await batcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_cancelled_waiting_request_leaves_the_queue_without_reaching_the_model()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend);
        var first = await Occupy(batcher, backend);
        using var cancel = new CancellationTokenSource();

        var cancelled = batcher.EmbedAsync(["gone"], 3, EmbeddingOptions.Default with { Normalize = false }, cancel.Token);
        var kept = batcher.EmbedAsync(["kept"], 3, EmbeddingOptions.Default, CancellationToken.None);
        Assert.Equal(2, batcher.QueueDepth);
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        Assert.Equal(1, batcher.QueueDepth);
        gate.Set();
        await first;
        await kept;
        Assert.Equal([1, 1], backend.Batches);
        await batcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task A_full_queue_is_an_overloaded_error()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend, maxQueue: 1);
        var first = await Occupy(batcher, backend);
        var queued = batcher.EmbedAsync(["q"], 3, EmbeddingOptions.Default, CancellationToken.None);

        var error = await Assert.ThrowsAsync<KeyEmbedException>(() => batcher.EmbedAsync(["r"], 3, EmbeddingOptions.Default, CancellationToken.None));

        Assert.Equal(ErrorKind.Overloaded, error.Kind);
        Assert.Contains("--max-queue", error.Message);
        gate.Set();
        await Task.WhenAll(first, queued);
        await batcher.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Stopping_drains_accepted_work_and_then_refuses_new_work()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var batcher = Start(backend);
        var first = await Occupy(batcher, backend);
        var queued = batcher.RunExclusiveAsync(b => b.EmbedTokens("drained", EmbeddingOptions.Default), 3, CancellationToken.None);

        var stopping = batcher.StopAsync(CancellationToken.None);
        var refused = await Assert.ThrowsAsync<KeyEmbedException>(() => batcher.EmbedAsync(["late"], 3, EmbeddingOptions.Default, CancellationToken.None));
        Assert.Equal(ErrorKind.Overloaded, refused.Kind);
        Assert.False(stopping.IsCompleted);
        gate.Set();
        await stopping;

        Assert.Single(await first);
        Assert.Equal(backend.CountTokens("drained"), (await queued).Vectors.Length);
    }

    [Fact]
    public async Task A_backend_failure_reaches_every_request_of_the_batch()
    {
        var backend = new FakeBackend();
        var batcher = Start(backend);

        var error = await Assert.ThrowsAsync<KeyEmbedException>(() =>
            batcher.EmbedAsync(["x"], 3, EmbeddingOptions.Default with { Dimensions = 99 }, CancellationToken.None));

        Assert.Equal(ErrorKind.InvalidInput, error.Kind);
        await batcher.StopAsync(CancellationToken.None);
    }
}
