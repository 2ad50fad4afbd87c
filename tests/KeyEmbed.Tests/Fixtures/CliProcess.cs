using System.Diagnostics;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// The real <c>keyembed</c> as a child process (<c>dotnet KeyEmbed.Cli.dll</c> from the test's output folder), for
/// what an in-process run cannot show: being killed, resource limits, two processes at once.
/// </summary>
internal static class CliProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "KeyEmbed.Cli.dll");

    /// <summary>
    /// Starts <c>keyembed ARGS</c> with <paramref name="environment"/> added; <paramref name="shellPrefix"/> (bash) runs
    /// first in the same shell, which then execs the CLI (e.g. <c>ulimit -f 64</c>).
    /// </summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null, string? shellPrefix = null)
    {
        ProcessStartInfo info;
        if (shellPrefix is null)
        {
            info = new ProcessStartInfo("dotnet");
            info.ArgumentList.Add(Dll);
            foreach (var a in args) info.ArgumentList.Add(a);
        }
        else
        {
            info = new ProcessStartInfo("bash");
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(shellPrefix + "; exec dotnet \"$@\"");
            info.ArgumentList.Add("keyembed");
            info.ArgumentList.Add(Dll);
            foreach (var a in args) info.ArgumentList.Add(a);
        }
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) info.Environment[name] = value;
        return Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
    }

    /// <summary>Runs to completion (at most <paramref name="timeout"/>); exit code, standard output and error.</summary>
    public static async Task<(int Exit, string Out, string Error)> RunAsync(IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? environment = null, string? shellPrefix = null, TimeSpan? timeout = null)
    {
        using var process = Start(args, environment, shellPrefix);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"keyembed {string.Join(' ', args)} did not finish in time");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}
