using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Server.Stores;

/// <summary>
/// The host's signal handling, in place of the console lifetime: SIGTERM (what Kubernetes and process managers send)
/// first turns <c>/health/ready</c> to 503 and keeps serving for <see cref="ServerOptions.DrainDelay"/>, so a balancer
/// takes the replica out before it stops accepting; then the host stops, finishing the requests already accepted.
/// Ctrl+C (SIGINT) and SIGQUIT stop at once.
/// </summary>
internal sealed class DrainingLifetime(IHostApplicationLifetime lifetime, DrainState drain, ServerOptions options, ILogger<DrainingLifetime> log)
    : IHostLifetime, IDisposable
{
    private readonly List<PosixSignalRegistration> _signals = [];

    public Task WaitForStartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(() => drain.Begin());
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnTerminate));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, OnInterrupt));
        _signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnInterrupt));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        foreach (var signal in _signals) signal.Dispose();
    }

    private void OnTerminate(PosixSignalContext context)
    {
        context.Cancel = true;
        if (!drain.Begin()) return;
        log.LogInformation("SIGTERM: /health/ready answers 503; stopping in {Seconds} s", (options.DrainDelay ?? TimeSpan.Zero).TotalSeconds);
        _ = Task.Delay(options.DrainDelay ?? TimeSpan.Zero).ContinueWith(_ => lifetime.StopApplication(), TaskScheduler.Default);
    }

    private void OnInterrupt(PosixSignalContext context)
    {
        context.Cancel = true;
        drain.Begin();
        lifetime.StopApplication();
    }
}
