using System.CommandLine;
using KeyEmbed.Cli.Commands;

namespace KeyEmbed.Cli;

/// <summary>Where a command writes and reads; tests pass string writers and readers, the program passes the console.</summary>
/// <param name="Input">Standard input, for <c>--input -</c> (null = the console's).</param>
internal sealed record CliContext(TextWriter Out, TextWriter Error, TextReader? Input = null)
{
    /// <summary>Standard input: the reader given, else the console's.</summary>
    public TextReader In => Input ?? Console.In;
}

/// <summary>Builds the command tree and runs it; one place maps failures to exit codes.</summary>
internal static class CliApp
{
    /// <summary>Exit code for a user-facing failure (bad file, bad option, bad input).</summary>
    public const int UserError = 2;

    /// <summary>Exit code for a failure inside ONNX Runtime or the machine.</summary>
    public const int RuntimeError = 3;

    /// <summary>Exit code for a command line System.CommandLine cannot parse (unknown option, a value of the wrong type).</summary>
    public const int ParseError = 1;

    /// <summary>Exit code for a bug in KeyEmbed (an exception that is not a <see cref="KeyEmbedException"/>).</summary>
    public const int InternalError = 4;

    /// <summary>The exit code of a <see cref="KeyEmbedException"/> of each family (docs/errors.md lists them; a test keeps them equal).</summary>
    public static int ExitCode(ErrorKind kind) => kind == ErrorKind.Runtime ? RuntimeError : UserError;

    /// <summary>The environment variable that makes an internal error print its stack trace.</summary>
    public const string TraceVariable = "KEYEMBED_TRACE";

    // System.CommandLine names CLR types ("System.Nullable`1[System.Int32]"); a user wants "an integer".
    private static string ReadableParseError(string message) => System.Text.RegularExpressions.Regex.Replace(
        message, @"as expected type '(System\.Nullable`1\[)?System\.(\w+)\]?'", m => m.Groups[2].Value switch
        {
            "Int32" or "Int64" => "as an integer",
            "Double" or "Single" => "as a number",
            "Boolean" => "as true or false",
            var other => $"as {other}",
        });

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        var context = new CliContext(stdout, stderr, stdin);
        // Named for the installed command (`keyembed`), not the assembly (RootCommand takes the executable's name).
        var root = new Command("keyembed", "KeyEmbed: keyword, sentence and document embeddings from BERT and XLNet checkpoints, compared by cosine similarity.")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
        };
        foreach (var command in CommandCatalog.All(context)) root.Subcommands.Add(command);
        // No command at all: the help page (what there is to run), still a non-zero exit for scripts.
        if (args.Length == 0)
        {
            root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
            return ParseError;
        }
        var parsed = root.Parse(args);
        // A parse error is one line and exit code 1, not the help page (`--help` still shows it).
        if (parsed.Errors.Count > 0 && !args.Any(a => a is "-h" or "--help" or "-?"))
        {
            // One mistake often yields several parse errors (an unknown option and then its value, each "unrecognized"):
            // the first names it; the rest are counted on the same line.
            string more = parsed.Errors.Count > 1 ? $" (and {parsed.Errors.Count - 1} more: {string.Join("; ", parsed.Errors.Skip(1).Select(e => ReadableParseError(e.Message)))})" : "";
            stderr.WriteLine($"error: {ReadableParseError(parsed.Errors[0].Message)}{more}");
            return ParseError;
        }
        var configuration = new InvocationConfiguration { Output = stdout, Error = stderr };
        return parsed.Invoke(configuration);
    }

    /// <summary>
    /// Runs <paramref name="body"/>; a library error about one of <paramref name="flags"/>' options
    /// (<see cref="KeyEmbedException.Option"/>) is prefixed with the command's flag, so the line names what to change.
    /// </summary>
    public static T NamingFlags<T>(Func<T> body, params (string Option, string Flag)[] flags)
    {
        try
        {
            return body();
        }
        catch (KeyEmbedException e) when (flags.Any(f => f.Option == e.Option))
        {
            string flag = flags.First(f => f.Option == e.Option).Flag;
            throw new KeyEmbedException(e.Kind, $"{flag}: {e.Message}", e) { Option = e.Option };
        }
    }

    /// <summary>Runs a command body; a <see cref="KeyEmbedException"/> becomes one line on stderr and a non-zero exit.</summary>
    public static int Guard(CliContext context, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (UsageException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return ParseError;
        }
        catch (KeyEmbedException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return ExitCode(e.Kind);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // A bug: still one line (with where to look), not a stack trace, unless asked for.
            context.Error.WriteLine($"error: internal error, a bug in KeyEmbed ({e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}); " +
                $"please report it with the command line; {TraceVariable}=1 prints the stack trace");
            if (Environment.GetEnvironmentVariable(TraceVariable) == "1") context.Error.WriteLine(e);
            return InternalError;
        }
    }
}

/// <summary>
/// A command line that does not parse in a way System.CommandLine cannot see (an unknown option among free texts):
/// exit code <see cref="CliApp.ParseError"/>, like its own parse errors.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);
