using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Cli;

/// <summary><c>serve</c> refuses to start, in one line, when it could only fail later: a busy port, an unusable model.</summary>
public sealed class ServeStartupTests
{
    private static (int Code, string Out, string Error, Task<int> Exit) Serve(params string[] args)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        // The real loader (ModelBackend.Load), as `keyembed serve` uses it.
        var command = ServeCommand.Create(new CliContext(output, error), _ => null, ModelBackend.Load, CancellationToken.None);
        var exit = Task.Run(() => command.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error }));
        exit.Wait(TimeSpan.FromMinutes(2));
        return (exit.IsCompleted ? exit.Result : -1, output.ToString(), error.ToString(), exit);
    }

    [Fact]
    public async Task A_busy_port_is_one_error_line_and_a_non_zero_exit()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        int port = ((IPEndPoint)holder.LocalEndpoint).Port;

        // A real process: the host's own log (on standard output) must not add a stack trace.
        var (code, output, error) = await CliProcess.RunAsync(["serve", "--model", SharedData.Golden("bert-tiny-random"),
            "--host", "127.0.0.1", "--port", port.ToString()]);

        Assert.Equal(CliApp.UserError, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains($"127.0.0.1:{port}", error);
        Assert.Contains("--port", error);
        Assert.DoesNotContain("   at ", output);
    }

    [Fact]
    public void A_model_the_service_cannot_use_stops_it_before_it_says_ready()
    {
        using var dir = new TempDir();
        foreach (var file in new[] { "config.json", "model.safetensors" })
            File.Copy(SharedData.Golden("bert-tiny-random", file), dir.File(file));

        var (code, output, error, _) = Serve("--model", dir.Path, "--port", "0");

        Assert.Equal(CliApp.UserError, code);
        Assert.StartsWith("error: ", error);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("vocab.txt", error);
        Assert.DoesNotContain("ready", output);
    }

    [Fact]
    public async Task A_usable_model_is_warmed_up_and_served()
    {
        using var stop = new CancellationTokenSource();
        var (output, error) = (new StringWriter(), new StringWriter());
        var command = ServeCommand.Create(new CliContext(output, error), _ => null, ModelBackend.Load, stop.Token);
        var exit = Task.Run(() => command.Parse(["--model", SharedData.Golden("bert-tiny-random"), "--port", "0"])
            .Invoke(new InvocationConfiguration { Output = output, Error = error }));
        for (int i = 0; i < 600 && !output.ToString().Contains("ready") && !exit.IsCompleted; i++) await Task.Delay(50);
        stop.Cancel();

        Assert.Equal(0, await exit.WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("ready", output.ToString());
        Assert.Equal("", error.ToString());
    }
}
