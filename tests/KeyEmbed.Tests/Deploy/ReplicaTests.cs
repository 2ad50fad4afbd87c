using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using KeyEmbed.Tests.Stores;

namespace KeyEmbed.Tests.Deploy;

/// <summary>
/// Three <c>keyembed serve</c> processes sharing one PostgreSQL store behind HAProxy (deploy/haproxy/haproxy.cfg with
/// only its ports changed) on loopback, under bounded load; one replica gets SIGTERM and another SIGKILL during it.
/// </summary>
[Collection("PostgreSQL")]
[Trait("Requires", "PostgreSQL with pgvector, haproxy")]
public sealed class ReplicaTests(PostgresServer postgres)
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");
    private const int Clients = 16;
    private static readonly TimeSpan LoadTime = TimeSpan.FromSeconds(12);

    private static string HaproxyPath =>
        Environment.GetEnvironmentVariable("KEYEMBED_HAPROXY") ?? (File.Exists("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "/usr/bin/haproxy");

    [Fact]
    public async Task Three_replicas_behind_haproxy_fail_no_request_when_one_gets_sigterm_and_another_sigkill()
    {
        if (!File.Exists(HaproxyPath))
            Assert.Fail($"This test needs HAProxy at {HaproxyPath}: apt-get install haproxy (.ci/run does) or set KEYEMBED_HAPROXY. It must not be skipped.");
        using var dir = new TempDir();
        var corpus = Enumerable.Range(0, 200).Select(i => $"document {i} about subject {i % 13}").ToArray();
        File.WriteAllLines(dir.File("corpus.txt"), corpus);
        string store = postgres.NewStore("replicas");
        var (indexed, _, indexError) = CliProcess.Run("index", "--model", TinyModel, "--input", dir.File("corpus.txt"), "--store", store);
        Assert.True(indexed == 0, indexError);

        int[] ports = [FreePort(), FreePort(), FreePort()];
        int front = FreePort();
        var replicas = ports.Select(p => CliProcess.Start("serve", "--model", TinyModel, "--port", p.ToString(), "--store", store, "--drain-seconds", "2")).ToList();
        var logs = replicas.Select(r => (r.StandardOutput.ReadToEndAsync(), r.StandardError.ReadToEndAsync())).ToList();
        Process? haproxy = null;
        try
        {
            using var direct = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            foreach (var port in ports) await WaitReady(direct, $"http://127.0.0.1:{port}/health/ready", replicas);

            // The shipped configuration, ports changed, nothing else.
            string shipped = File.ReadAllText(Path.Combine(SharedData.RepoRoot, "deploy", "haproxy", "haproxy.cfg"));
            string config = Replace(shipped, "bind 127.0.0.1:8080", $"bind 127.0.0.1:{front}");
            for (int i = 0; i < 3; i++) config = Replace(config, $"127.0.0.1:{8081 + i}\n", $"127.0.0.1:{ports[i]}\n");
            File.WriteAllText(dir.File("haproxy.cfg"), config);
            var start = new ProcessStartInfo(HaproxyPath) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in new[] { "-f", dir.File("haproxy.cfg"), "-db" }) start.ArgumentList.Add(arg);
            haproxy = Process.Start(start)!;
            var haproxyLog = haproxy.StandardError.ReadToEndAsync();
            _ = haproxy.StandardOutput.ReadToEndAsync();
            await WaitReady(direct, $"http://127.0.0.1:{front}/health/ready", [haproxy]);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{front}"), Timeout = TimeSpan.FromSeconds(30) };
            int ok = 0;
            var failures = new List<string>();
            var clock = Stopwatch.StartNew();
            async Task Client(int seed)
            {
                var random = new Random(seed);
                while (clock.Elapsed < LoadTime)
                {
                    string body = $$"""{"query": "{{corpus[random.Next(corpus.Length)]}}", "top": 5}""";
                    try
                    {
                        using var response = await client.PostAsync("/v1/search", new StringContent(body, Encoding.UTF8, "application/json"));
                        string text = await response.Content.ReadAsStringAsync();
                        if (response.StatusCode == HttpStatusCode.OK && text.Contains("\"results\"")) Interlocked.Increment(ref ok);
                        else lock (failures) failures.Add($"{clock.Elapsed.TotalSeconds:F1}s {(int)response.StatusCode} {text}");
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        lock (failures) failures.Add($"{clock.Elapsed.TotalSeconds:F1}s {e.GetType().Name}: {e.Message}");
                    }
                }
            }
            var load = Task.WhenAll(Enumerable.Range(0, Clients).Select(i => Task.Run(() => Client(i))));

            // Each replica's own /metrics, read while it runs (two of them are about to go).
            var served = new long[3];
            await Task.Delay(TimeSpan.FromSeconds(3));
            served[0] = await SearchesServed(direct, ports[0]);
            using (var term = Process.Start("kill", ["-TERM", replicas[0].Id.ToString()])) await term.WaitForExitAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            served[1] = await SearchesServed(direct, ports[1]);
            replicas[1].Kill();
            await load;
            served[2] = await SearchesServed(direct, ports[2]);

            Assert.True(failures.Count == 0, $"{failures.Count} failed of {ok + failures.Count} requests:\n{string.Join("\n", failures.Take(10))}");
            Assert.True(ok > Clients, $"only {ok} requests in {LoadTime}");
            Assert.All(served, count => Assert.True(count > 0, $"a replica served no search: {string.Join(", ", served)}"));
            using var exited = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await replicas[0].WaitForExitAsync(exited.Token);
            Assert.True(replicas[0].ExitCode == 0, "the replica given SIGTERM did not exit cleanly: " + await logs[0].Item2);
        }
        finally
        {
            if (haproxy is { HasExited: false }) haproxy.Kill();
            foreach (var replica in replicas) if (!replica.HasExited) replica.Kill(entireProcessTree: true);
        }
    }

    private static string Replace(string text, string from, string to)
    {
        Assert.True(text.Contains(from, StringComparison.Ordinal), $"deploy/haproxy/haproxy.cfg no longer has '{from.Trim()}'");
        return text.Replace(from, to, StringComparison.Ordinal);
    }

    // keyembed_http_requests_total{route="/v1/search",status="200"} N on the replica itself.
    private static async Task<long> SearchesServed(HttpClient client, int port)
    {
        string metrics = await client.GetStringAsync($"http://127.0.0.1:{port}/metrics");
        var match = Regex.Match(metrics, @"^keyembed_http_requests_total\{route=""/v1/search"",status=""200""\} (\d+)", RegexOptions.Multiline);
        return match.Success ? long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static async Task WaitReady(HttpClient client, string url, IReadOnlyList<Process> processes)
    {
        for (int i = 0; i < 1200; i++)
        {
            Assert.DoesNotContain(processes, p => p.HasExited);
            try { if ((await client.GetAsync(url)).StatusCode == HttpStatusCode.OK) return; }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException($"{url} never answered 200");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
