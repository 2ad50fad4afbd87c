using System.CommandLine;
using KeyEmbed.Soak;

// A bounded soak of a running KeyEmbed service (loopback only); ends by itself. See docs/reliability.md.
var url = new Option<string>("--url") { Description = "Base URL of the service, e.g. http://127.0.0.1:8080 (loopback).", Required = true };
var duration = new Option<double>("--duration") { Description = "Seconds of traffic.", DefaultValueFactory = _ => 1800 };
var clients = new Option<int>("--clients") { Description = "Concurrent clients sending mixed traffic.", DefaultValueFactory = _ => 8 };
var idle = new Option<int>("--idle") { Description = "Idle connections held open.", DefaultValueFactory = _ => 150 };
var slow = new Option<int>("--slow") { Description = "Connections trickling headers or body.", DefaultValueFactory = _ => 50 };
var maxBody = new Option<long>("--max-body-bytes") { Description = "The service's body limit.", DefaultValueFactory = _ => 2 * 1024 * 1024 };
var report = new Option<string?>("--report") { Description = "Also write the report to this file." };
var malformed = new Option<double>("--malformed") { Description = "Share of malformed or oversized requests.", DefaultValueFactory = _ => 0.05 };
var noDisconnects = new Option<bool>("--no-disconnects") { Description = "Leave out the client that disconnects mid-request." };
var root = new RootCommand("KeyEmbed soak: mixed traffic of every route, malformed requests, disconnects, idle and slow connections.");
foreach (var option in new Option[] { url, duration, clients, idle, slow, maxBody, report, malformed, noDisconnects }) root.Options.Add(option);
root.SetAction(async (parsed, cancellation) =>
{
    var server = new Uri(parsed.GetValue(url)!);
    if (!System.Net.IPAddress.TryParse(server.Host, out var address) || !System.Net.IPAddress.IsLoopback(address))
    {
        Console.Error.WriteLine("error: --url must be a loopback address (127.0.0.1); the soak never leaves this machine.");
        return 2;
    }
    var settings = new SoakSettings(server, TimeSpan.FromSeconds(parsed.GetValue(duration)), parsed.GetValue(clients),
        parsed.GetValue(idle), parsed.GetValue(slow), parsed.GetValue(maxBody), MalformedFraction: parsed.GetValue(malformed),
        Disconnects: !parsed.GetValue(noDisconnects));
    // Wait (up to 3 minutes) for the service to load its model.
    using (var probe = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(5) })
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try { if ((await probe.GetAsync("/health", cancellation)).IsSuccessStatusCode) break; }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { }
            if (waited.Elapsed > TimeSpan.FromMinutes(3))
            {
                Console.Error.WriteLine($"error: {server} did not become healthy within 3 minutes.");
                return 2;
            }
            await Task.Delay(250, cancellation);
        }
    }
    var result = await SoakRun.RunAsync(settings, line => Console.Error.WriteLine(line), cancellation);
    var text = result.ToText();
    Console.Write(text);
    if (parsed.GetValue(report) is { } file) await File.WriteAllTextAsync(file, text, cancellation);
    return result.Unintended.Count == 0 ? 0 : 1;
});
return await root.Parse(args).InvokeAsync();
