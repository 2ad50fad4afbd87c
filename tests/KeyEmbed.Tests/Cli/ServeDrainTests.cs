using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Cli;

public sealed class ServeDrainTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    // The real `keyembed serve` process under load gets SIGTERM while 32 requests are inside it (queued for the model,
    // held by a 3 s batch wait): every one of them is answered 200 and the process exits 0.
    [Fact]
    public async Task Sigterm_under_load_answers_every_accepted_request_and_exits_cleanly()
    {
        int port = FreePort();
        using var server = CliProcess.Start(["serve", "--model", SharedData.Golden("bert-tiny-random"), "--port", port.ToString(CultureInfo.InvariantCulture),
            "--max-wait-ms", "3000", "--threads", "1"], new Dictionary<string, string> { ["KEYEMBED_CACHE"] = "off" });
        var stdout = server.StandardOutput.ReadToEndAsync();
        var stderr = server.StandardError.ReadToEndAsync();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(60) };
        try
        {
            var ready = Stopwatch.StartNew();
            while (true)
            {
                try { if ((await http.GetAsync("/health")).StatusCode == HttpStatusCode.OK) break; }
                catch (HttpRequestException) { }
                Assert.True(ready.Elapsed < TimeSpan.FromSeconds(90) && !server.HasExited, "the service never became healthy: " + (server.HasExited ? await stderr : ""));
                await Task.Delay(100);
            }

            var requests = Enumerable.Range(0, 32).Select(i => http.PostAsync("/embed",
                new StringContent($$"""{"texts": ["request {{i}} about rivers and stones"]}""", Encoding.UTF8, "application/json"))).ToArray();
            // Wait until all 32 are queued inside the service, then SIGTERM it.
            var queued = Stopwatch.StartNew();
            while (true)
            {
                string metrics = await http.GetStringAsync("/metrics");
                var depth = metrics.Split('\n').FirstOrDefault(l => l.StartsWith("keyembed_queue_depth ", StringComparison.Ordinal));
                if (depth is not null && double.Parse(depth["keyembed_queue_depth ".Length..], CultureInfo.InvariantCulture) >= 32) break;
                Assert.True(queued.Elapsed < TimeSpan.FromSeconds(2.5), "the 32 requests were not all queued within the batch wait; " + depth);
                await Task.Delay(20);
            }
            using (var kill = Process.Start("kill", ["-TERM", server.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();

            var responses = await Task.WhenAll(requests);
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            using var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await server.WaitForExitAsync(exit.Token);
            Assert.True(server.ExitCode == 0, await stderr);
            Assert.Contains("stopped", await stdout);
        }
        finally
        {
            if (!server.HasExited) server.Kill();
        }
    }
}
