using System.Text.RegularExpressions;

namespace KeyEmbed.Models;

/// <summary>
/// Hugging Face model names (<c>ORG/NAME</c>, optionally <c>@revision</c>) resolved offline, in the local Hugging Face
/// cache that huggingface_hub and sentence-transformers fill: <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else
/// <c>~/.cache/huggingface/hub</c>; a model lives in <c>models--ORG--NAME/</c> with <c>refs/&lt;revision&gt;</c> (a file
/// holding a commit hash) and <c>snapshots/&lt;commit&gt;/</c> (the files, often links into <c>blobs/</c>). Nothing is
/// downloaded here; <see cref="HubDownloader"/> (<c>keyembed pull</c>) fills the same layout.
/// </summary>
public static partial class HuggingFaceCache
{
    [GeneratedRegex(@"^(?<org>[A-Za-z0-9][A-Za-z0-9_.-]{0,95})/(?<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,95})(?:@(?<rev>[A-Za-z0-9][A-Za-z0-9_./-]{0,199}))?$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    /// <summary>Whether <paramref name="value"/> is a full commit hash (40 lower-case hex digits).</summary>
    internal static bool IsCommit(string value) => CommitPattern().IsMatch(value);

    /// <summary>The revision used when a name gives none.</summary>
    public const string DefaultRevision = "main";

    /// <summary>Splits <c>ORG/NAME[@revision]</c>; null when <paramref name="value"/> is not of that form.</summary>
    public static (string Org, string Name, string Revision)? ParseRepoId(string value)
    {
        var match = RepoIdPattern().Match(value);
        if (!match.Success || value.Contains("..", StringComparison.Ordinal)) return null;
        return (match.Groups["org"].Value, match.Groups["name"].Value,
            match.Groups["rev"].Success ? match.Groups["rev"].Value : DefaultRevision);
    }

    /// <summary>The hub cache folder the environment names (see the class remarks).</summary>
    public static string HubDirectory(Func<string, string?> environment)
    {
        if (environment("HF_HUB_CACHE") is { Length: > 0 } hubCache) return hubCache;
        if (environment("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        var user = environment("HOME") is { Length: > 0 } h ? h : Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return Path.Combine(user, ".cache", "huggingface", "hub");
    }

    /// <summary>The folder of a model's cache entry, <c>models--ORG--NAME</c>.</summary>
    public static string RepoFolder(string hub, string org, string name) => Path.Combine(hub, $"models--{org}--{name}");

    /// <summary>
    /// The snapshot folder of <paramref name="repoId"/> in the local cache; a <see cref="KeyEmbedException"/>
    /// (<see cref="ErrorKind.InvalidInput"/>) saying where it looked and how to get the model when it is not there.
    /// </summary>
    public static string Resolve(string repoId, Func<string, string?> environment)
    {
        var (org, name, revision) = ParseRepoId(repoId)
            ?? throw KeyEmbedException.Input($"model '{repoId}' is not a Hugging Face name (ORG/NAME or ORG/NAME@revision)");
        string hub = HubDirectory(environment);
        string repo = RepoFolder(hub, org, name);
        if (!Directory.Exists(repo))
            throw KeyEmbedException.Input(
                $"model '{repoId}': no such folder, and {org}/{name} is not in the local Hugging Face cache ({repo}); " +
                $"get it with `keyembed pull {org}/{name}` (or `huggingface-cli download {org}/{name}`), or pass a model folder");
        string snapshots = Path.Combine(repo, "snapshots");
        string? commit = null;
        var refFile = Path.Combine(repo, "refs", revision);
        if (File.Exists(refFile)) commit = File.ReadAllText(refFile).Trim();
        else if (CommitPattern().IsMatch(revision)) commit = revision;
        string? folder = commit is null ? null : Path.Combine(snapshots, commit);
        if (folder is null || !Directory.Exists(folder))
        {
            var known = Directory.Exists(Path.Combine(repo, "refs"))
                ? string.Join(", ", Directory.EnumerateFiles(Path.Combine(repo, "refs"), "*", SearchOption.AllDirectories)
                    .Select(f => Path.GetRelativePath(Path.Combine(repo, "refs"), f).Replace('\\', '/')).Order(StringComparer.Ordinal))
                : "";
            throw KeyEmbedException.Input(
                $"model '{repoId}': revision '{revision}' of {org}/{name} is not in the local Hugging Face cache ({repo}; " +
                $"revisions there: {(known.Length > 0 ? known : "none")}); get it with `keyembed pull {org}/{name}@{revision}`");
        }
        return folder;
    }
}
