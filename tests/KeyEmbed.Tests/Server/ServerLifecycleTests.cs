using KeyEmbed.Embedding;
using System.Net;
using KeyEmbed.Server;

namespace KeyEmbed.Tests.Server;

public sealed class ServerLifecycleTests
{
    [Fact]
    public async Task Health_is_503_while_the_model_loads_and_200_after()
    {
        var loading = new TaskCompletionSource<IEmbeddingBackend>();
        await using var server = await RunningServer.StartAsync(loading.Task);

        var before = await server.Client.GetAsync("/health");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, before.StatusCode);
        Assert.Equal("loading", (await before.JsonAsync()).GetProperty("status").GetString());
        var early = await server.PostJsonAsync("/embed", """{"texts": ["x"]}""");
        var error = await early.ErrorAsync(503);
        Assert.Equal("model_loading", error.GetProperty("code").GetString());
        Assert.True(early.Headers.RetryAfter is not null);

        loading.SetResult(new FakeBackend());

        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/embed", """{"texts": ["x"]}""")).StatusCode);
    }

    [Fact]
    public async Task Health_reports_a_failed_load_with_its_reason()
    {
        var failing = Task.FromException<IEmbeddingBackend>(new KeyEmbedException(ErrorKind.InvalidCheckpoint, "model.safetensors: header truncated"));
        await using var server = await RunningServer.StartAsync(failing);

        var health = await server.Client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        var body = await health.JsonAsync();
        Assert.Equal("failed", body.GetProperty("status").GetString());
        Assert.Contains("header truncated", body.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData(ErrorKind.Runtime, 500, "runtime_error")]
    [InlineData(ErrorKind.InvalidCheckpoint, 500, "model_error")]
    [InlineData(ErrorKind.InvalidInput, 422, "invalid_value")]
    public async Task A_model_failure_maps_through_the_error_table(ErrorKind kind, int status, string code)
    {
        var backend = new FakeBackend { Failure = new KeyEmbedException(kind, "the model said no") };
        await using var server = await RunningServer.StartAsync(backend);

        var error = await (await server.PostJsonAsync("/embed", """{"texts": ["x"]}""")).ErrorAsync(status);

        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal("the model said no", error.GetProperty("message").GetString());
        // The worker survives a failed batch.
        backend.Failure = null;
        Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/embed", """{"texts": ["x"]}""")).StatusCode);
    }

    [Fact]
    public async Task A_bug_is_a_500_without_its_details()
    {
        var backend = new FakeBackend { Failure = new InvalidOperationException("secret internals") };
        await using var server = await RunningServer.StartAsync(backend);

        var error = await (await server.PostJsonAsync("/embed", """{"texts": ["x"]}""")).ErrorAsync(500);

        Assert.Equal("internal_error", error.GetProperty("code").GetString());
        Assert.DoesNotContain("secret", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task With_an_api_key_every_route_but_health_and_the_page_needs_the_bearer_key()
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend(), new ServerOptions { ApiKey = "s3cret" });
        const string body = """{"texts": ["x"]}""";

        var none = await server.PostJsonAsync("/embed", body);
        var noneError = await none.ErrorAsync(401);
        Assert.Equal("authentication_error", noneError.GetProperty("type").GetString());
        Assert.Contains("Bearer", none.Headers.WwwAuthenticate.ToString());
        await (await server.PostJsonAsync("/embed", body, key: "wrong")).ErrorAsync(401);
        await (await server.PostJsonAsync("/v1/embeddings", """{"input": "x"}""", key: "s3cret-and-more")).ErrorAsync(401);
        await (await server.Client.GetAsync("/metrics")).ErrorAsync(401);
        await (await server.Client.GetAsync("/info")).ErrorAsync(401);

        Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/embed", body, key: "s3cret")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/app.js")).StatusCode);
        var metrics = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        metrics.Headers.Authorization = new("Bearer", "s3cret");
        var text = await (await server.Client.SendAsync(metrics)).Content.ReadAsStringAsync();
        Assert.Contains("keyembed_http_requests_total{route=\"/embed\",status=\"401\"} 2", text);
    }

    [Fact]
    public async Task Concurrent_requests_are_merged_into_one_model_batch()
    {
        // A slow model: while it runs one batch, the next requests queue up and leave together.
        var backend = new FakeBackend { BatchDelay = TimeSpan.FromMilliseconds(100) };
        await using var server = await RunningServer.StartAsync(backend);

        var requests = Enumerable.Range(0, 16).Select(i => server.PostJsonAsync("/embed", $$"""{"texts": ["keyword {{i}}"]}""")).ToArray();
        var responses = await Task.WhenAll(requests);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        for (var i = 0; i < responses.Length; i++)
            Assert.Equal(backend.Embed($"keyword {i}", EmbeddingOptions.Default), (await responses[i].JsonAsync()).GetProperty("embeddings")[0].Floats());
        Assert.True(backend.Batches.Max() > 1, $"batch sizes: {string.Join(", ", backend.Batches)}");
        Assert.True(backend.Batches.Count < 16);
        var metrics = await server.Client.GetStringAsync("/metrics");
        Assert.Contains($"keyembed_batch_size_count {backend.Batches.Count}", metrics);
    }

    [Fact]
    public async Task A_full_queue_answers_503_with_retry_after_and_the_queued_requests_still_finish()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        await using var server = await RunningServer.StartAsync(backend, new ServerOptions { MaxQueuedRequests = 2, RetryAfterSeconds = 3 });

        var running = server.PostJsonAsync("/embed", """{"texts": ["first"]}""");
        Assert.True(await backend.Started.WaitAsync(TimeSpan.FromSeconds(10)), "the first request never reached the model");
        var queued = new[]
        {
            server.PostJsonAsync("/embed", """{"texts": ["second"]}"""),
            server.PostJsonAsync("/embed", """{"texts": ["third"]}"""),
        };
        await WaitUntil(async () => (await server.Client.GetStringAsync("/metrics")).Contains("keyembed_queue_depth 2"));

        var refused = await server.PostJsonAsync("/embed", """{"texts": ["fourth"]}""");
        var error = await refused.ErrorAsync(503);
        Assert.Equal("overloaded", error.GetProperty("code").GetString());
        Assert.Equal(TimeSpan.FromSeconds(3), refused.Headers.RetryAfter?.Delta);

        gate.Set();
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.All(await Task.WhenAll(queued), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Contains("keyembed_rejected_total 1", await server.Client.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task A_client_that_gives_up_while_queued_leaves_the_queue()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        await using var server = await RunningServer.StartAsync(backend);
        var running = server.PostJsonAsync("/embed", """{"texts": ["first"]}""");
        Assert.True(await backend.Started.WaitAsync(TimeSpan.FromSeconds(10)));

        using var giveUp = new CancellationTokenSource();
        var request = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = new StringContent("""{"texts": ["impatient"]}""", System.Text.Encoding.UTF8, "application/json") };
        var abandoned = server.Client.SendAsync(request, giveUp.Token);
        await WaitUntil(async () => (await server.Client.GetStringAsync("/metrics")).Contains("keyembed_queue_depth 1"));
        giveUp.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);

        await WaitUntil(async () => (await server.Client.GetStringAsync("/metrics")).Contains("keyembed_queue_depth 0"));
        gate.Set();
        Assert.Equal(HttpStatusCode.OK, (await running).StatusCode);
        Assert.Equal([1], backend.Batches);
    }

    [Fact]
    public async Task Stopping_the_server_finishes_requests_already_accepted()
    {
        using var gate = new ManualResetEventSlim(false);
        var backend = new FakeBackend { Gate = gate };
        var server = await RunningServer.StartAsync(backend);
        var inFlight = server.PostJsonAsync("/embed", """{"texts": ["busy"]}""");
        Assert.True(await backend.Started.WaitAsync(TimeSpan.FromSeconds(10)));

        var stopping = server.App.StopAsync();
        await Task.Delay(200);
        Assert.False(stopping.IsCompleted, "the server stopped before its in-flight request finished");
        gate.Set();

        var response = await inFlight;
        await stopping;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(backend.Embed("busy", EmbeddingOptions.Default), (await response.JsonAsync()).GetProperty("embeddings")[0].Floats());
        await server.DisposeAsync();
    }

    private static async Task WaitUntil(Func<Task<bool>> condition)
    {
        for (var i = 0; i < 200; i++)
        {
            if (await condition()) return;
            await Task.Delay(25);
        }
        Assert.Fail("condition not reached within 5 s");
    }
}
