using System.Text;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// Terminal output shared by the embedding commands: Spectre.Console tables written to the command's writer (no
/// colours, so the text is the same in a terminal, a pipe and a test), and progress for long inputs.
/// </summary>
internal static class ConsoleOutput
{
    /// <summary>Writes <paramref name="renderable"/> (a table) as plain text; Spectre measures East Asian wide characters as two columns.</summary>
    public static void Write(TextWriter writer, IRenderable renderable)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });
        // As wide as the content needs: a pipe or a file has no width, and a narrow one would wrap the texts.
        console.Profile.Width = 4096;
        console.Write(renderable);
    }

    /// <summary>Text for a table cell: markup characters escaped, control characters shown as <c>\uXXXX</c>, empty shown as <c>""</c>.</summary>
    public static string Cell(string text)
    {
        if (text.Length == 0) return "\"\"";
        var builder = new StringBuilder(text.Length);
        foreach (char c in text)
            builder.Append(char.IsControl(c) ? $"\\u{(int)c:X4}" : c.ToString());
        return Markup.Escape(builder.ToString());
    }

    /// <summary>Whether <paramref name="error"/> is the process's standard error and that is a terminal.</summary>
    public static bool IsTerminal(TextWriter error) => ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
}

/// <summary>
/// Progress of a long run in texts: a Spectre.Console bar on standard error when it is a terminal, otherwise plain
/// lines <c>progress: DONE/TOTAL texts</c> on the command's error writer (so pipes, logs and tests see them).
/// </summary>
internal sealed class ProgressReport
{
    private readonly TextWriter _error;
    private readonly long _total;

    public ProgressReport(TextWriter error, long total)
    {
        _error = error;
        _total = total;
    }

    /// <summary>Whether progress shows as a bar (a terminal) rather than lines.</summary>
    public bool Interactive => ConsoleOutput.IsTerminal(_error);

    /// <summary>Runs <paramref name="work"/>, which reports the number of texts done so far through its argument.</summary>
    public void Run(Action<Action<long>> work)
    {
        if (!Interactive)
        {
            long last = -1;
            work(done =>
            {
                if (done == last) return;
                last = done;
                _error.WriteLine($"progress: {done}/{_total} texts");
            });
            return;
        }
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                var task = context.AddTask("embedding", maxValue: Math.Max(_total, 1));
                work(done => task.Value = done);
                task.Value = task.MaxValue;
            });
    }
}

/// <summary>Progress reported on the caller's thread, in order (<see cref="Progress{T}"/> posts to the thread pool).</summary>
internal sealed class CallerThreadProgress(Action<int> report) : IProgress<int>
{
    public void Report(int value) => report(value);
}

/// <summary>
/// A write-only stream that decodes UTF-8 into a <see cref="TextWriter"/>, so the vector writers (which write bytes)
/// can stream to the command's standard output.
/// </summary>
internal sealed class TextWriterStream(TextWriter writer) : Stream
{
    private readonly Decoder _decoder = new UTF8Encoding(false).GetDecoder();
    private char[] _chars = new char[4096];

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        int needed = _decoder.GetCharCount(buffer, flush: false);
        if (needed > _chars.Length) _chars = new char[Math.Max(needed, _chars.Length * 2)];
        int written = _decoder.GetChars(buffer, _chars, flush: false);
        writer.Write(_chars, 0, written);
    }

    public override void Flush() => writer.Flush();
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}

/// <summary>
/// Holds what is written in memory until <see cref="Release"/>, then passes it and everything after straight to the
/// target; never released (a failure), nothing reaches the target. Standard output cannot be taken back.
/// </summary>
internal sealed class HeldStream(Stream target) : Stream
{
    private MemoryStream? _held = new();

    /// <summary>Writes what was held and lets later writes through.</summary>
    public void Release()
    {
        if (_held is null) return;
        _held.Position = 0;
        _held.CopyTo(target);
        _held = null;
    }

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_held is not null) _held.Write(buffer);
        else target.Write(buffer);
    }

    public override void Flush()
    {
        if (_held is null) target.Flush();
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
