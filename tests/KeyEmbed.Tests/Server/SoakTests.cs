using KeyEmbed.Server;
using KeyEmbed.Soak;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace KeyEmbed.Tests.Server;

/// <summary>
/// The one-minute soak (the 30-minute one is bench/soak.sh, docs/reliability.md): the real service over the tiny
/// random BERT, mixed traffic of every route with 5% malformed or oversized requests, mid-request disconnects, and
/// 200 idle or slow connections held open all along. Every answer must be the documented one, every window must serve
/// requests, and the service must cut off the slow and idle connections. Latency and memory figures are printed, not
/// asserted (a shared CI machine's timing is noise at this length).
/// </summary>
public sealed class SoakTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_minute_of_mixed_hostile_traffic_gets_only_documented_answers()
    {
        using var model = KeyEmbedModel.Load(SharedData.Golden("bert-tiny-random"), new KeyEmbedModelOptions { UseGraphCache = false, Threads = 1 });
        var options = new ServerOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            MaxBodyBytes = 256 * 1024,
            // Shorter than the defaults so that one minute sees the service cut slow and idle clients off.
            RequestHeadersTimeout = TimeSpan.FromSeconds(4),
            MinRequestBodyGrace = TimeSpan.FromSeconds(3),
            KeepAliveTimeout = TimeSpan.FromSeconds(8),
        };
        var app = KeyEmbedServer.Build(new KeyEmbedModelBackend(model), options, logging => logging.ClearProviders());
        await app.StartAsync();
        SoakReport report;
        try
        {
            report = await SoakRun.RunAsync(new SoakSettings(app.ListeningUri(), TimeSpan.FromSeconds(60), Clients: 4,
                IdleConnections: 150, SlowConnections: 50, MaxBodyBytes: options.MaxBodyBytes));
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        output.WriteLine(report.ToText());

        Assert.True(report.Unintended.Count == 0, string.Join("\n", report.Unintended.Take(20)));
        Assert.All(report.Windows, w => Assert.True(w.Requests > 0, $"window at {w.Start.TotalSeconds:0} s served nothing"));
        Assert.True(report.SlowClosedByServer > 0, "no slow client was cut off");
        Assert.True(report.IdleClosedByServer > 0, "no idle connection was closed");
        Assert.True(report.Disconnects > 0);
        foreach (var kind in new[] { "embed-single", "embed-batch", "similarity", "keywords", "tokenize", "tokens", "oversized", "bad-json" })
            Assert.True(report.ByKind.GetValueOrDefault(kind) > 0, $"no {kind} request was answered");
    }
}
