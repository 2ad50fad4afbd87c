using System.CommandLine;

namespace KeyEmbed.Cli.Commands;

/// <summary>Every subcommand, in the order <c>--help</c> lists them. Each lives in its own file.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All(CliContext context)
    {
        yield return SimilarityCommand.Create(context);
        yield return EmbedCommand.Create(context);
        yield return KeywordsCommand.Create(context);
        yield return IndexCommand.Create(context);
        yield return SearchCommand.Create(context);
        yield return TuneCommand.Create(context);
        yield return TokenizeCommand.Create(context);
        yield return InspectCommand.Create(context);
        yield return HiddenStatesCommand.Create(context);
        yield return ServeCommand.Create(context);
        yield return EvalCommand.Create(context);
        yield return CacheCommand.Create(context);
        yield return PullCommand.Create(context);
    }
}
