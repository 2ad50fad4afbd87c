using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KeyEmbed.Soak;

/// <summary>What a soak run does and for how long.</summary>
/// <param name="Server">Base address of the service (loopback).</param>
/// <param name="Duration">How long the traffic runs; the run ends by itself.</param>
/// <param name="Clients">Concurrent clients sending mixed traffic (every route, 5% malformed or oversized).</param>
/// <param name="IdleConnections">Connections held open that send nothing (re-opened when the service closes them).</param>
/// <param name="SlowConnections">Connections trickling their headers or body, one byte at a time (re-opened when closed).</param>
/// <param name="MaxBodyBytes">The service's body limit (an oversized request is one byte more).</param>
/// <param name="Seed">Seed of the request mix.</param>
/// <param name="MalformedFraction">Share of malformed or oversized requests.</param>
/// <param name="Disconnects">Whether a client keeps disconnecting mid-request.</param>
internal sealed record SoakSettings(Uri Server, TimeSpan Duration, int Clients = 8, int IdleConnections = 150, int SlowConnections = 50,
    long MaxBodyBytes = 2 * 1024 * 1024, int Seed = 1, double MalformedFraction = 0.05, bool Disconnects = true);

/// <summary>One window of the run: requests answered, their p99, memory at its end.</summary>
internal sealed record SoakWindow(TimeSpan Start, int Requests, double P50Ms, double P99Ms, double GcHeapMb, double ResidentMb);

/// <summary>The outcome: counts, what was not as documented, per-window latency and memory, and the verdicts.</summary>
internal sealed record SoakReport(
    TimeSpan Elapsed,
    int Requests,
    IReadOnlyDictionary<string, int> ByKind,
    IReadOnlyList<string> Unintended,
    int Disconnects,
    int SlowClosedByServer,
    int IdleClosedByServer,
    int Rejected503,
    IReadOnlyList<SoakWindow> Windows,
    double HeapSlopeMbPerMin,
    double ResidentSlopeMbPerMin)
{
    /// <summary>p99 of the last window over the first window after warm-up (the second window).</summary>
    public double P99Ratio => Windows.Count >= 3 && Windows[1].P99Ms > 0 ? Windows[^1].P99Ms / Windows[1].P99Ms : double.NaN;

    public string ToText()
    {
        var text = new StringBuilder();
        string F(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        text.AppendLine(CultureInfo.InvariantCulture, $"soak: {Elapsed.TotalSeconds:0} s, {Requests} requests answered ({string.Join(", ", ByKind.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value}"))})");
        text.AppendLine(CultureInfo.InvariantCulture, $"unintended responses: {Unintended.Count}{(Unintended.Count > 0 ? " — " + string.Join("; ", Unintended.Take(10)) : "")}");
        text.AppendLine(CultureInfo.InvariantCulture, $"503 with Retry-After (overload): {Rejected503}; mid-request disconnects: {Disconnects}; slow clients cut off by the service: {SlowClosedByServer}; idle connections closed by the service: {IdleClosedByServer}");
        text.AppendLine("window   requests   p50 ms   p99 ms   GC heap MB   resident MB");
        foreach (var w in Windows)
            text.AppendLine(CultureInfo.InvariantCulture, $"{w.Start.TotalSeconds,6:0} s {w.Requests,10} {F(w.P50Ms),8} {F(w.P99Ms),8} {F(w.GcHeapMb),12} {F(w.ResidentMb),13}");
        text.AppendLine(CultureInfo.InvariantCulture, $"memory slope after warm-up: GC heap {HeapSlopeMbPerMin:0.00} MB/min, resident {ResidentSlopeMbPerMin:0.00} MB/min");
        text.AppendLine(CultureInfo.InvariantCulture, $"p99 last window / first window after warm-up: {P99Ratio:0.00} (target ≤ 1.5)");
        return text.ToString();
    }
}

/// <summary>
/// A bounded soak of a running KeyEmbed service over loopback (docs/reliability.md): mixed traffic of every route
/// (single and batched embeddings, similarity, keywords, tokenize, token vectors, health, info), 5% malformed or
/// oversized requests each with the status it must get, clients that disconnect mid-request, and idle and slow
/// connections held open throughout. Every answer is checked against what the service documents; latency is recorded
/// per window and memory (GC heap, resident) is read from <c>/metrics</c> every few seconds. Ends by itself.
/// </summary>
internal static class SoakRun
{
    private sealed record Probe(string Kind, string Method, string Route, Func<Random, byte[]>? Body, int[] Allowed);

    private static readonly string[] Words =
    [
        "river", "stone", "economy", "violin", "satellite", "harvest", "justice", "glacier", "protein", "cathedral",
        "algorithm", "desert", "lantern", "vaccine", "orchestra", "volcano", "currency", "北京", "咖啡", "Wissenschaft",
    ];

    private static string Phrase(Random r, int words) => string.Join(' ', Enumerable.Range(0, words).Select(_ => Words[r.Next(Words.Length)]));

    private static byte[] Json(string s) => Encoding.UTF8.GetBytes(s);

    private static string Texts(Random r, int count, int words) => string.Join(", ", Enumerable.Range(0, count).Select(_ => $"\"{Phrase(r, r.Next(1, words + 1))}\""));

    private static (Probe[] Valid, Probe[] Malformed) Probes(long maxBodyBytes)
    {
        int[] ok = [200, 503];
        Probe[] valid =
        [
            new("embed-single", "POST", "/v1/embeddings", r => Json($$"""{"input": "{{Phrase(r, 2)}}", "model": "keyembed"}"""), ok),
            new("embed-batch", "POST", "/embed", r => Json($$"""{"texts": [{{Texts(r, r.Next(2, 17), 12)}}]}"""), ok),
            new("embed-batch", "POST", "/v1/embeddings", r => Json($$"""{"input": [{{Texts(r, r.Next(2, 9), 20)}}]}"""), ok),
            new("similarity", "POST", "/similarity", r => Json($$"""{"texts": [{{Texts(r, r.Next(2, 6), 3)}}]}"""), ok),
            new("similarity", "POST", "/similarity", r => Json($$"""{"query": "{{Phrase(r, 2)}}", "candidates": [{{Texts(r, 5, 2)}}], "top_k": 3}"""), ok),
            new("keywords", "POST", "/keywords", r => Json($$"""{"document": "{{Phrase(r, 40)}}", "top_k": 5}"""), ok),
            new("tokenize", "POST", "/tokenize", r => Json($$"""{"texts": [{{Texts(r, 3, 8)}}]}"""), ok),
            new("tokens", "POST", "/embed/tokens", r => Json($$"""{"text": "{{Phrase(r, 6)}}"}"""), ok),
            new("health", "GET", "/health", null, [200]),
            new("info", "GET", "/info", null, [200]),
        ];
        Probe[] malformed =
        [
            new("bad-json", "POST", "/embed", _ => Json("""{"texts": ["unterminated"""), [400]),
            new("bad-type", "POST", "/v1/embeddings", _ => Json("""{"input": 42}"""), [400, 422]),
            new("bad-field", "POST", "/embed", _ => Json("""{"texts": ["x"], "pooling": "median"}"""), [422]),
            new("empty-body", "POST", "/similarity", _ => [], [400]),
            new("unknown-field", "POST", "/embed", _ => Json("""{"texts": ["x"], "poolng": "mean"}"""), [400]),
            new("oversized", "POST", "/embed", _ => OversizedBody(maxBodyBytes), [413]),
            new("no-route", "POST", "/v2/nothing", _ => Json("{}"), [404]),
        ];
        return (valid, malformed);
    }

    private static byte[] OversizedBody(long maxBodyBytes)
    {
        var body = new byte[maxBodyBytes + 1];
        Array.Fill(body, (byte)' ');
        "{\"texts\": [\"x\"]}"u8.CopyTo(body);
        return body;
    }

    public static async Task<SoakReport> RunAsync(SoakSettings settings, Action<string>? progress = null, CancellationToken cancellation = default)
    {
        var (valid, malformed) = Probes(settings.MaxBodyBytes);
        // Idle pooled connections are dropped well before the service's keep-alive timeout closes them, so a request
        // never races the service closing its connection (a client-side matter, not the service's).
        using var http = new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = settings.Clients * 2,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2),
        })
        {
            BaseAddress = settings.Server,
            Timeout = TimeSpan.FromSeconds(60),
        };
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        stop.CancelAfter(settings.Duration);
        var samples = new List<(double At, double LatencyMs)>();
        var byKind = new Dictionary<string, int>();
        var unintended = new List<string>();
        int disconnects = 0, slowClosed = 0, idleClosed = 0, rejected = 0;

        void Unintended(string what)
        {
            lock (unintended) if (unintended.Count < 1000) unintended.Add($"{clock.Elapsed.TotalSeconds:0.0} s: {what}");
        }

        async Task Client(int id)
        {
            var random = new Random(settings.Seed * 1000 + id);
            while (!stop.IsCancellationRequested)
            {
                var probe = random.NextDouble() < settings.MalformedFraction ? malformed[random.Next(malformed.Length)] : valid[random.Next(valid.Length)];
                using var request = new HttpRequestMessage(new HttpMethod(probe.Method), probe.Route);
                if (probe.Body is { } body)
                {
                    request.Content = new ByteArrayContent(body(random));
                    request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
                }
                long started = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.SendAsync(request, stop.Token);
                    string text = await response.Content.ReadAsStringAsync(stop.Token);
                    double ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                    int status = (int)response.StatusCode;
                    if (!probe.Allowed.Contains(status))
                        Unintended($"{probe.Kind} {probe.Method} {probe.Route} answered {status}: {text[..Math.Min(200, text.Length)]}");
                    else if (status == 503 && response.Headers.RetryAfter is null)
                        Unintended($"{probe.Kind}: 503 without Retry-After");
                    if (status == 503) Interlocked.Increment(ref rejected);
                    lock (samples)
                    {
                        samples.Add((clock.Elapsed.TotalSeconds, ms));
                        byKind[probe.Kind] = byKind.GetValueOrDefault(probe.Kind) + 1;
                    }
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    Unintended($"{probe.Kind} {probe.Route}: {e.GetType().Name}: {e.Message} {e.InnerException?.Message}");
                }
            }
        }

        // Sends the headers and part of a body, or a whole request, then closes without reading the answer.
        async Task Disconnector()
        {
            var random = new Random(settings.Seed);
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var socket = await Connect(settings.Server, stop.Token);
                    var body = Json($$"""{"texts": [{{Texts(random, 4, 6)}}]}""");
                    var head = Encoding.ASCII.GetBytes($"POST /embed HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n");
                    await socket.SendAsync(head, stop.Token);
                    await socket.SendAsync(random.Next(2) == 0 ? body.AsMemory(0, body.Length / 2) : body, stop.Token);
                    socket.Close(0); // RST: gone mid-request
                    Interlocked.Increment(ref disconnects);
                    await Task.Delay(100, stop.Token);
                }
                catch (OperationCanceledException) { }
                catch (SocketException e) { Unintended($"disconnector could not connect: {e.SocketErrorCode}"); await Task.Delay(100, CancellationToken.None); }
            }
        }

        // Idle: connects and sends nothing. Slow: trickles the headers (or, after headers, the body) one byte a second.
        // Re-opened whenever the service closes it, so the pool stays full for the whole run.
        async Task Holder(int id, bool slow)
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var socket = await Connect(settings.Server, stop.Token);
                    var request = Encoding.ASCII.GetBytes(id % 2 == 0
                        ? "POST /embed HTTP/1.1\r\nHost: soak\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"texts\": [\"" + new string('a', 3000)
                        : "GET /health HTTP/1.1\r\nHost: soak\r\nX-Slow: " + new string('b', 3000));
                    int sent = 0;
                    var buffer = new byte[256];
                    while (!stop.IsCancellationRequested)
                    {
                        if (slow && sent < request.Length)
                        {
                            // Body tricklers send the headers at once, then the body byte by byte.
                            int chunk = id % 2 == 0 && sent == 0 ? request.AsSpan().IndexOf("\r\n\r\n"u8) + 4 : 1;
                            await socket.SendAsync(request.AsMemory(sent, chunk), SocketFlags.None, stop.Token);
                            sent += chunk;
                        }
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                        wait.CancelAfter(TimeSpan.FromSeconds(1));
                        try
                        {
                            int read = await socket.ReceiveAsync(buffer, SocketFlags.None, wait.Token);
                            if (read == 0 || !socket.Connected) break; // the service closed it
                            // An answer (408 for a too-slow body): read to the end, the service closes next.
                            while (await socket.ReceiveAsync(buffer, SocketFlags.None, stop.Token) > 0) { }
                            break;
                        }
                        catch (OperationCanceledException) when (!stop.IsCancellationRequested) { }
                    }
                    if (!stop.IsCancellationRequested) CountClosed(slow);
                }
                catch (OperationCanceledException) { }
                // A send after the service closed the connection fails with EPIPE (Shutdown): the service cut it off too
                // (seen once in the CI soak on a loaded machine, between a trickled byte and the next).
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown)
                {
                    if (!stop.IsCancellationRequested) CountClosed(slow);
                }
                catch (SocketException e)
                {
                    Unintended($"{(slow ? "slow" : "idle")} connection: {e.SocketErrorCode}");
                    await Task.Delay(200, CancellationToken.None);
                }
            }
        }

        void CountClosed(bool slow)
        {
            if (slow) Interlocked.Increment(ref slowClosed);
            else Interlocked.Increment(ref idleClosed);
        }

        var memory = new List<(double At, double HeapMb, double ResidentMb)>();
        async Task Sampler()
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var (heap, resident) = await ReadMemory(http, stop.Token);
                    lock (memory) memory.Add((clock.Elapsed.TotalSeconds, heap / 1048576, resident / 1048576));
                    progress?.Invoke($"{clock.Elapsed.TotalSeconds:0} s: {samples.Count} answered, GC heap {heap / 1048576:0.0} MB, resident {resident / 1048576:0.0} MB");
                    await Task.Delay(TimeSpan.FromSeconds(Math.Clamp(settings.Duration.TotalSeconds / 60, 1, 5)), stop.Token);
                }
                catch (OperationCanceledException) { }
                catch (HttpRequestException e) { Unintended($"/metrics: {e.Message}"); }
            }
        }

        var tasks = new List<Task> { Sampler() };
        if (settings.Disconnects) tasks.Add(Disconnector());
        tasks.AddRange(Enumerable.Range(0, settings.IdleConnections).Select(i => Holder(i, slow: false)));
        tasks.AddRange(Enumerable.Range(0, settings.SlowConnections).Select(i => Holder(i, slow: true)));
        tasks.AddRange(Enumerable.Range(0, settings.Clients).Select(Client));
        await Task.WhenAll(tasks);
        var elapsed = clock.Elapsed;
        try
        {
            var (heap, resident) = await ReadMemory(http, CancellationToken.None);
            memory.Add((elapsed.TotalSeconds, heap / 1048576, resident / 1048576));
        }
        catch (HttpRequestException e) { Unintended($"/metrics after the run: {e.Message}"); }

        // Six windows (one per 5 minutes of a 30-minute run); the first is warm-up.
        double width = elapsed.TotalSeconds / 6;
        var windows = new List<SoakWindow>();
        for (int w = 0; w < 6; w++)
        {
            double from = w * width, to = (w + 1) * width;
            var latencies = samples.Where(s => s.At >= from && s.At < to).Select(s => s.LatencyMs).Order().ToArray();
            var last = memory.LastOrDefault(m => m.At < to);
            windows.Add(new SoakWindow(TimeSpan.FromSeconds(from), latencies.Length, Percentile(latencies, 0.5), Percentile(latencies, 0.99), last.HeapMb, last.ResidentMb));
        }
        var steady = memory.Where(m => m.At >= width).ToArray();
        return new SoakReport(elapsed, samples.Count, byKind, unintended, disconnects, slowClosed, idleClosed, rejected, windows,
            Slope(steady.Select(m => (m.At, m.HeapMb))) * 60, Slope(steady.Select(m => (m.At, m.ResidentMb))) * 60);
    }

    private static async Task<Socket> Connect(Uri server, CancellationToken cancellation)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(server.Host), server.Port), cancellation);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async Task<(double Heap, double Resident)> ReadMemory(HttpClient http, CancellationToken cancellation)
    {
        string text = await http.GetStringAsync("/metrics", cancellation);
        double Value(string name) => text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(name.Length + 1)..], CultureInfo.InvariantCulture)).FirstOrDefault();
        return (Value("keyembed_gc_heap_bytes"), Value("keyembed_process_resident_bytes"));
    }

    /// <summary>Nearest-rank percentile of sorted values (NaN when empty).</summary>
    internal static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>Least-squares slope of y over x (0 with fewer than two points).</summary>
    internal static double Slope(IEnumerable<(double X, double Y)> points)
    {
        var p = points.ToArray();
        if (p.Length < 2) return 0;
        double mx = p.Average(q => q.X), my = p.Average(q => q.Y);
        double sxx = p.Sum(q => (q.X - mx) * (q.X - mx));
        return sxx == 0 ? 0 : p.Sum(q => (q.X - mx) * (q.Y - my)) / sxx;
    }
}
