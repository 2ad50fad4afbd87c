using System.CommandLine;
using System.Globalization;
using KeyEmbed.Models;
using Spectre.Console;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed pull ORG/NAME[@revision]</c>: downloads the files KeyEmbed needs into the local Hugging Face cache
/// (<see cref="HubDownloader"/>), so <c>--model ORG/NAME</c> finds them offline. Progress on standard error (a bar on a
/// terminal, <c>pull:</c> lines otherwise); one summary line on standard output. The only command that downloads.
/// </summary>
internal static class PullCommand
{
    public static Command Create(CliContext ctx, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var model = new Argument<string>("model")
        {
            Description = "ORG/NAME or ORG/NAME@revision (a branch, tag or commit; main when omitted), as on the model's Hugging Face page.",
        };
        var command = new Command("pull",
            "Downloads a model from the Hugging Face Hub into the local Hugging Face cache (HF_HUB_CACHE, else HF_HOME/hub, " +
            "else ~/.cache/huggingface/hub), only the files KeyEmbed reads (config, tokenizer, sentence-transformers pooling, " +
            "one set of weights: safetensors first); then --model ORG/NAME works offline. A broken download resumes when run again; " +
            "large files are checked against the sha256 the Hub lists. HF_ENDPOINT (default https://huggingface.co) is the Hub, " +
            "HF_TOKEN its token (private or gated models); HF_HUB_OFFLINE=1 refuses. The only command that downloads.")
        {
            model,
        };
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string repoId = parse.GetValue(model)!;
            using var downloader = new HubDownloader(environment);
            var result = Run(ctx, downloader, repoId);
            if (!result.Files.Any(f => HubFileSelection.VocabularyFiles.Contains(f.Path)))
                ctx.Error.WriteLine($"warning: {result.Repo} has no vocabulary file KeyEmbed reads ({string.Join(", ", HubFileSelection.VocabularyFiles)}); " +
                    "commands that tokenize will refuse it until one is beside the weights");
            int fileCount = result.Files.Count;
            ctx.Out.WriteLine($"{result.Repo}@{result.Revision}: commit {result.Commit}, {fileCount} file{(fileCount == 1 ? "" : "s")} " +
                $"({CacheCommand.Size(result.DownloadedBytes)} downloaded) in {result.Snapshot}; use --model {repoId}");
            return 0;
        }));
        return command;
    }

    private static PullResult Run(CliContext ctx, HubDownloader downloader, string repoId)
    {
        if (!ConsoleOutput.IsTerminal(ctx.Error))
            return downloader.PullAsync(repoId, new LineProgress(ctx.Error)).GetAwaiter().GetResult();
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        PullResult? result = null;
        console.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                new TransferSpeedColumn(), new RemainingTimeColumn())
            .Start(context => result = downloader.PullAsync(repoId, new BarProgress(context)).GetAwaiter().GetResult());
        return result!;
    }

    private static string Size(long? bytes) => bytes is long b ? CacheCommand.Size(b) : "size unknown";

    /// <summary>Plain lines for pipes and logs: each file's start (or resume), every tenth of a large file, its end.</summary>
    private sealed class LineProgress(TextWriter error) : IPullProgress
    {
        private const long Large = 16L << 20;
        private long _done;
        private int _tenths;

        public void Started(HubFile file, long resumedAt)
        {
            _done = resumedAt;
            _tenths = file.Size is > 0 ? (int)(resumedAt * 10 / file.Size.Value) : 0;
            error.WriteLine(resumedAt > 0
                ? $"pull: {file.Path}: resuming at {CacheCommand.Size(resumedAt)} of {Size(file.Size)}"
                : $"pull: {file.Path}: {Size(file.Size)}");
        }

        public void Advanced(HubFile file, long bytes)
        {
            _done += bytes;
            if (file.Size is not long size || size < Large) return;
            int tenths = (int)(_done * 10 / size);
            if (tenths <= _tenths || tenths >= 10) return;
            _tenths = tenths;
            error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pull: {file.Path}: {tenths * 10}% ({CacheCommand.Size(_done)} of {CacheCommand.Size(size)})"));
        }

        public void Finished(HubFile file, bool cached) =>
            error.WriteLine($"pull: {file.Path}: {(cached ? "already in the cache" : file.Sha256 is null ? "done" : "done, sha256 checked")}");
    }

    /// <summary>A Spectre.Console bar per file on a terminal.</summary>
    private sealed class BarProgress(ProgressContext context) : IPullProgress
    {
        private readonly Dictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);

        private ProgressTask Task(HubFile file)
        {
            if (!_tasks.TryGetValue(file.Path, out var task))
                _tasks[file.Path] = task = context.AddTask(Markup.Escape(file.Path), maxValue: Math.Max(file.Size ?? 1, 1));
            return task;
        }

        public void Started(HubFile file, long resumedAt) => Task(file).Value = resumedAt;

        public void Advanced(HubFile file, long bytes) => Task(file).Increment(bytes);

        public void Finished(HubFile file, bool cached)
        {
            var task = Task(file);
            if (cached) task.Description = Markup.Escape(file.Path) + " (cached)";
            task.Value = task.MaxValue;
        }
    }
}
