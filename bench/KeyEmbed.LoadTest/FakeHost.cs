using KeyEmbed.Server;
using KeyEmbed.Tests.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.LoadTest;

/// <summary>The real service on a free loopback port over the tests' fake backend, slowed to imitate a model.</summary>
internal sealed class FakeHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private FakeHost(WebApplication app) => _app = app;

    public Uri Address => _app.ListeningUri();

    public static async Task<FakeHost> StartAsync(TimeSpan batchDelay)
    {
        var app = KeyEmbedServer.Build(new FakeBackend { BatchDelay = batchDelay }, new ServerOptions { Port = 0 },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        return new FakeHost(app);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
