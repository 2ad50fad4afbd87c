using KeyEmbed.Server;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Tests.Server;

public sealed class ServerLoggingTests
{
    [Fact]
    public async Task Requests_are_not_logged_one_by_one_but_startup_is()
    {
        var capture = new CapturingProvider();
        var app = KeyEmbedServer.Build(new FakeBackend(), new ServerOptions { Host = "127.0.0.1", Port = 0 },
            logging => { logging.ClearProviders(); logging.AddProvider(capture); });
        await app.StartAsync();
        try
        {
            using var client = new HttpClient { BaseAddress = app.ListeningUri() };
            for (var i = 0; i < 3; i++) (await client.GetAsync("/health")).EnsureSuccessStatusCode();
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        var categories = capture.Entries.Select(e => e.Category).ToArray();
        Assert.Contains("Microsoft.Hosting.Lifetime", categories);
        Assert.DoesNotContain(capture.Entries, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) && e.Level < LogLevel.Warning);
    }

    private sealed class CapturingProvider : ILoggerProvider
    {
        public List<(string Category, LogLevel Level)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose() { }

        private sealed class Logger(CapturingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Entries) owner.Entries.Add((category, logLevel));
            }
        }
    }
}
