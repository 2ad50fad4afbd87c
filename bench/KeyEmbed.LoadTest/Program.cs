using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using KeyEmbed.LoadTest;

// A bounded load test of a running KeyEmbed service: N clients send single keywords for D seconds.
// Not a unit test; see docs/server.md.
var url = new Option<string?>("--url") { Description = "Base URL of a running service, e.g. http://127.0.0.1:8080." };
var clients = new Option<int>("--clients") { Description = "Concurrent clients.", DefaultValueFactory = _ => 32 };
var seconds = new Option<double>("--duration") { Description = "Seconds to run.", DefaultValueFactory = _ => 30 };
var route = new Option<string>("--route") { Description = "/v1/embeddings or /embed.", DefaultValueFactory = _ => "/v1/embeddings" };
var apiKey = new Option<string?>("--api-key") { Description = "Bearer key, if the service needs one." };
var fake = new Option<bool>("--fake") { Description = "Self-host the service over a deterministic fake backend (checks the tool, not a model)." };
var fakeBatchMs = new Option<double>("--fake-batch-ms") { Description = "With --fake: milliseconds the fake model spends per batch.", DefaultValueFactory = _ => 5 };
var root = new RootCommand("KeyEmbed load test: concurrent single-keyword requests against a running service.");
foreach (var option in new Option[] { url, clients, seconds, route, apiKey, fake, fakeBatchMs }) root.Options.Add(option);
root.SetAction(async (parsed, cancellation) =>
{
    var settings = new LoadSettings(parsed.GetValue(clients), TimeSpan.FromSeconds(parsed.GetValue(seconds)), parsed.GetValue(route)!, parsed.GetValue(apiKey));
    if (settings.Clients < 1 || settings.Duration <= TimeSpan.Zero)
    {
        Console.Error.WriteLine("error: --clients and --duration must be positive.");
        return 2;
    }
    if (parsed.GetValue(fake))
    {
        await using var host = await FakeHost.StartAsync(TimeSpan.FromMilliseconds(parsed.GetValue(fakeBatchMs)));
        Console.WriteLine($"Self-hosted fake service at {host.Address} (fake model: {parsed.GetValue(fakeBatchMs)} ms per batch).");
        return await LoadRun.RunAsync(host.Address, settings, cancellation);
    }
    if (parsed.GetValue(url) is not { } target)
    {
        Console.Error.WriteLine("error: give --url of a running service (keyembed serve), or --fake.");
        return 2;
    }
    return await LoadRun.RunAsync(new Uri(target), settings, cancellation);
});
return await root.Parse(args).InvokeAsync();

namespace KeyEmbed.LoadTest
{
    internal sealed record LoadSettings(int Clients, TimeSpan Duration, string Route, string? ApiKey);

    internal static class LoadRun
    {
        private static readonly string[] Words =
        [
            "apple", "river", "mountain", "economy", "violin", "satellite", "harvest", "justice", "glacier", "protein",
            "cathedral", "algorithm", "desert", "lantern", "vaccine", "orchestra", "volcano", "currency", "pigeon", "telescope",
            "democracy", "saffron", "hurricane", "library", "molecule", "compass", "festival", "bicycle", "whisper", "engine",
            "北京", "咖啡", "Wissenschaft", "ciudad", "bonjour", "красота", "音楽", "東京", "amour", "Freiheit",
        ];

        public static async Task<int> RunAsync(Uri server, LoadSettings settings, CancellationToken cancellation)
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Clients * 2, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = server,
                Timeout = TimeSpan.FromSeconds(60),
            };
            if (settings.ApiKey is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
            var before = await BatchCounters.ReadAsync(http, cancellation);
            Console.WriteLine($"{settings.Clients} clients, {settings.Duration.TotalSeconds:0.#} s, POST {settings.Route} on {server} ...");

            var latencies = new List<double>[settings.Clients];
            var errors = new Dictionary<string, int>();
            var clock = Stopwatch.StartNew();
            var tasks = Enumerable.Range(0, settings.Clients).Select(client => Task.Run(async () =>
            {
                var mine = latencies[client] = [];
                for (var i = 0; clock.Elapsed < settings.Duration && !cancellation.IsCancellationRequested; i++)
                {
                    var keyword = Words[(client * 7 + i) % Words.Length] + (i % 3 == 0 ? "" : " " + Words[(client + i) % Words.Length]);
                    var body = settings.Route.StartsWith("/v1/", StringComparison.Ordinal)
                        ? $$"""{"input": "{{keyword}}", "model": "keyembed"}"""
                        : $$"""{"texts": ["{{keyword}}"]}""";
                    var started = Stopwatch.GetTimestamp();
                    string? failure;
                    try
                    {
                        using var response = await http.PostAsync(settings.Route, new StringContent(body, Encoding.UTF8, "application/json"), cancellation);
                        await response.Content.ReadAsByteArrayAsync(cancellation);
                        failure = response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode}";
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        failure = e.GetType().Name;
                    }
                    if (failure is null) mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    else lock (errors) errors[failure] = errors.GetValueOrDefault(failure) + 1;
                }
            }, cancellation)).ToArray();
            await Task.WhenAll(tasks);
            var elapsed = clock.Elapsed.TotalSeconds;
            var after = await BatchCounters.ReadAsync(http, cancellation);

            var all = latencies.SelectMany(l => l).Order().ToArray();
            var failed = errors.Values.Sum();
            Console.WriteLine($"requests ok     {all.Length}");
            Console.WriteLine($"errors          {failed}{(failed == 0 ? "" : " (" + string.Join(", ", errors.Select(e => $"{e.Key}: {e.Value}")) + ")")}");
            Console.WriteLine($"throughput      {all.Length / elapsed:0.0} requests/s");
            if (all.Length > 0)
                Console.WriteLine($"latency ms      p50 {Percentile(all, 0.50):0.0}   p99 {Percentile(all, 0.99):0.0}   max {all[^1]:0.0}");
            if (before is not null && after is not null)
            {
                var batches = after.Batches - before.Batches;
                Console.WriteLine(batches > 0
                    ? $"server batches  {batches:0}, mean {(after.Texts - before.Texts) / batches:0.00} texts per batch (from /metrics)"
                    : "server batches  none counted in /metrics");
            }
            else Console.WriteLine("server batches  /metrics unreadable (API key missing?)");
            return failed == 0 ? 0 : 1;
        }

        /// <summary>Nearest-rank percentile of sorted values.</summary>
        private static double Percentile(double[] sorted, double p) =>
            sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    /// <summary>The server's batch histogram totals: how many batches, how many texts in them.</summary>
    internal sealed record BatchCounters(double Batches, double Texts)
    {
        public static async Task<BatchCounters?> ReadAsync(HttpClient http, CancellationToken cancellation)
        {
            try
            {
                var text = await http.GetStringAsync("/metrics", cancellation);
                double? Value(string name) => text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
                    .Select(l => (double?)double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
                return Value("keyembed_batch_size_count") is { } count && Value("keyembed_batch_size_sum") is { } sum ? new BatchCounters(count, sum) : null;
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }
    }
}
