using System.Diagnostics;
using KeyEmbed.Cli;

namespace KeyEmbed.Tests.Stores;

/// <summary>The CLI in-process (<see cref="CliApp.Run"/>) or as a child process (to run several at once, or kill one).</summary>
internal static class CliProcess
{
    public static (int Code, string Out, string Error) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = CliApp.Run(args, stdout, stderr, TextReader.Null);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Starts <c>keyembed ARGS</c> as its own process (the KeyEmbed.Cli.dll beside the tests).</summary>
    public static Process Start(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KeyEmbed.Cli.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        return Process.Start(start)!;
    }

    /// <summary>Waits for a started process and returns its exit code and output.</summary>
    public static async Task<(int Code, string Out, string Error)> FinishAsync(Process process, TimeSpan timeout)
    {
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try { await process.WaitForExitAsync(cancel.Token); }
        catch (OperationCanceledException)
        {
            process.Kill(true);
            throw new Xunit.Sdk.XunitException($"keyembed did not finish within {timeout}: {await error}");
        }
        return (process.ExitCode, await output, await error);
    }
}
