using System.Net;
using KeyEmbed.Server;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Tests.Server;

public sealed class BatchIsolationTests
{
    // A model run that throws fails the requests of its own batch (500, the model's reason logged) and no other; the
    // worker goes on. Three waves of 10 concurrent requests (a wave is answered before the next starts, so waves never
    // share a batch); the middle wave carries one poisoned text.
    [Theory]
    [InlineData(ErrorKind.Runtime, "runtime_error")]
    [InlineData(ErrorKind.InvalidCheckpoint, "model_error")]
    public async Task A_throwing_model_run_fails_only_its_own_batch_with_500_and_a_logged_reason(ErrorKind kind, string code)
    {
        var backend = new FakeBackend
        {
            BatchDelay = TimeSpan.FromMilliseconds(20),
            FailBatch = texts => texts.Contains("poison") ? new KeyEmbedException(kind, "ONNX Runtime failed on this batch") : null,
        };
        var log = new CapturedLog();
        var app = KeyEmbedServer.Build(backend, new ServerOptions { Host = "127.0.0.1", Port = 0, MaxBatchWait = TimeSpan.FromMilliseconds(5) },
            logging => { logging.ClearProviders(); logging.AddProvider(log); });
        await app.StartAsync();
        var responses = new List<(string Text, HttpStatusCode Status, string Body)>();
        try
        {
            using var client = new HttpClient { BaseAddress = app.ListeningUri() };
            foreach (var wave in new[] { "a", "b", "c" })
            {
                string[] texts = [.. Enumerable.Range(0, 10).Select(i => wave == "b" && i == 4 ? "poison" : $"keyword {wave}{i}")];
                responses.AddRange(await Task.WhenAll(texts.Select(async t =>
                {
                    var response = await client.PostAsync("/embed", new StringContent($$"""{"texts": ["{{t}}"]}""", System.Text.Encoding.UTF8, "application/json"));
                    return (t, response.StatusCode, await response.Content.ReadAsStringAsync());
                })));
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        var failedBatches = backend.BatchTexts.Where(b => b.Failed).Select(b => b.Texts).ToArray();
        var failedTexts = Assert.Single(failedBatches).ToHashSet();
        Assert.Contains("poison", failedTexts);
        foreach (var (text, status, body) in responses)
        {
            if (failedTexts.Contains(text))
            {
                Assert.Equal(HttpStatusCode.InternalServerError, status);
                Assert.Contains($"\"code\":\"{code}\"", body.Replace(" ", ""));
                Assert.Contains("ONNX Runtime failed on this batch", body);
            }
            else Assert.True(status == HttpStatusCode.OK, $"{text}: {(int)status} {body}");
        }
        // The first and last waves (other batches, before and after the failure) were all served.
        Assert.All(responses.Where(r => !r.Text.StartsWith("keyword b", StringComparison.Ordinal) && r.Text != "poison"),
            r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var batchLine = Assert.Single(log.Entries, e => e.Level == LogLevel.Error && e.Message.StartsWith("A model batch of", StringComparison.Ordinal));
        Assert.Equal($"A model batch of {failedTexts.Count} requests failed ({kind}): ONNX Runtime failed on this batch", batchLine.Message);
    }

    private sealed class CapturedLog : ILoggerProvider
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose() { }

        private sealed class Logger(CapturedLog owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Entries) owner.Entries.Add((logLevel, formatter(state, exception)));
            }
        }
    }
}
