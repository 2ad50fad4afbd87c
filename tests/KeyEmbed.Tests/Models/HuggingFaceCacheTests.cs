using KeyEmbed.Cli;
using KeyEmbed.Models;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Models;

/// <summary><c>--model ORG/NAME[@revision]</c> found offline in a Hugging Face cache laid out as huggingface_hub lays it out.</summary>
public sealed class HuggingFaceCacheTests
{
    private const string Commit = "0123456789abcdef0123456789abcdef01234567";
    private const string OtherCommit = "fedcba9876543210fedcba9876543210fedcba98";

    /// <summary>
    /// hub/models--test-org--tiny-bert: refs/main → Commit; the snapshot's files are symbolic links into blobs/, as
    /// huggingface_hub writes them; a second snapshot under refs/v2.
    /// </summary>
    private static string MakeHub(TempDir dir)
    {
        string hub = dir.File("hub");
        string repo = HuggingFaceCache.RepoFolder(hub, "test-org", "tiny-bert");
        Directory.CreateDirectory(Path.Combine(repo, "refs"));
        Directory.CreateDirectory(Path.Combine(repo, "blobs"));
        foreach (var (commit, reference) in new[] { (Commit, "main"), (OtherCommit, "v2") })
        {
            File.WriteAllText(Path.Combine(repo, "refs", reference), commit);
            string snapshot = Path.Combine(repo, "snapshots", commit);
            Directory.CreateDirectory(snapshot);
            foreach (var file in new[] { "config.json", "model.safetensors", "vocab.txt" })
            {
                string blob = Path.Combine(repo, "blobs", commit[..8] + "-" + file);
                File.Copy(SharedData.Golden("bert-tiny-random", file), blob, overwrite: true);
                File.CreateSymbolicLink(Path.Combine(snapshot, file), Path.GetRelativePath(snapshot, blob));
            }
        }
        return hub;
    }

    [Theory]
    [InlineData("BAAI/bge-small-zh-v1.5", "BAAI", "bge-small-zh-v1.5", "main")]
    [InlineData("hfl/chinese-roberta-wwm-ext@v1.0", "hfl", "chinese-roberta-wwm-ext", "v1.0")]
    [InlineData("org/name@refs/pr/3", "org", "name", "refs/pr/3")]
    public void Names_parse_with_an_optional_revision(string id, string org, string name, string revision) =>
        Assert.Equal((org, name, revision), HuggingFaceCache.ParseRepoId(id));

    [Theory]
    [InlineData("minilm")]
    [InlineData("a/b/c")]
    [InlineData("../x")]
    [InlineData("org/..")]
    public void Other_values_are_not_names(string value) => Assert.Null(HuggingFaceCache.ParseRepoId(value));

    [Fact]
    public void The_hub_folder_follows_hf_hub_cache_then_hf_home_then_the_home_folder()
    {
        Assert.Equal("/c", HuggingFaceCache.HubDirectory(n => n switch { "HF_HUB_CACHE" => "/c", "HF_HOME" => "/h", _ => "/u" }));
        Assert.Equal(Path.Combine("/h", "hub"), HuggingFaceCache.HubDirectory(n => n switch { "HF_HOME" => "/h", "HOME" => "/u", _ => null }));
        Assert.Equal(Path.Combine("/u", ".cache", "huggingface", "hub"), HuggingFaceCache.HubDirectory(n => n == "HOME" ? "/u" : null));
    }

    [Fact]
    public void A_name_resolves_to_the_snapshot_of_its_revision()
    {
        using var dir = new TempDir();
        string hub = MakeHub(dir);
        string? Env(string n) => n == "HF_HUB_CACHE" ? hub : null;

        Assert.EndsWith(Path.Combine("snapshots", Commit), HuggingFaceCache.Resolve("test-org/tiny-bert", Env));
        Assert.EndsWith(Path.Combine("snapshots", OtherCommit), HuggingFaceCache.Resolve("test-org/tiny-bert@v2", Env));
        Assert.EndsWith(Path.Combine("snapshots", OtherCommit), HuggingFaceCache.Resolve($"test-org/tiny-bert@{OtherCommit}", Env));

        var missing = Assert.Throws<KeyEmbedException>(() => HuggingFaceCache.Resolve("test-org/other", Env));
        Assert.Contains("keyembed pull test-org/other", missing.Message);
        var badRevision = Assert.Throws<KeyEmbedException>(() => HuggingFaceCache.Resolve("test-org/tiny-bert@v9", Env));
        Assert.Contains("main, v2", badRevision.Message);
    }

    [Fact]
    public async Task The_cli_embeds_with_a_cached_model_by_its_name_as_with_its_folder()
    {
        using var dir = new TempDir();
        string hub = MakeHub(dir);
        var environment = new Dictionary<string, string> { ["HF_HUB_CACHE"] = hub };

        var byName = await CliProcess.RunAsync(["embed", "--model", "test-org/tiny-bert", "--format", "csv", "the key words"], environment);
        Assert.True(byName.Exit == 0, byName.Error);
        var (code, byFolder, error) = Run("embed", "--model", SharedData.Golden("bert-tiny-random"), "--format", "csv", "the key words");
        Assert.True(code == 0, error);
        Assert.Equal(byFolder, byName.Out);

        var missing = await CliProcess.RunAsync(["embed", "--model", "test-org/absent", "hello"], environment);
        Assert.Equal(CliApp.UserError, missing.Exit);
        Assert.Single(missing.Error.TrimEnd().Split('\n'));
        Assert.Contains("not in the local Hugging Face cache", missing.Error);
        Assert.Equal("", missing.Out);
    }

    private static (int Code, string Out, string Error) Run(params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        int code = CliApp.Run(args, stdout, stderr, TextReader.Null);
        return (code, stdout.ToString(), stderr.ToString());
    }
}
