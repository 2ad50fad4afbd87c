using System.Security.Cryptography;
using KeyEmbed.Cli;
using KeyEmbed.Models;
using KeyEmbed.Tests.Fixtures;

namespace KeyEmbed.Tests.Cli;

/// <summary>
/// <c>keyembed pull</c> as a child process against <see cref="FakeHub"/> (loopback, files from ../shared/golden), then
/// <c>--model ORG/NAME</c> finding what it wrote with the network gone.
/// </summary>
public sealed class PullCommandTests
{
    private const string Tiny = "test/bert-tiny-random";
    private static readonly string[] TinyFiles = ["config.json", "model.safetensors", "vocab.txt"];

    private static Task<FakeHub> StartHub(string? token = null) => FakeHub.StartAsync(new Dictionary<string, FakeHub.Repo>
    {
        [Tiny] = new(SharedData.Golden("bert-tiny-random"), ["main", "v1"]),
        ["test/private"] = new(SharedData.Golden("bert-tiny-random"), ["main"], token ?? "hf_secret"),
    });

    /// <summary>The child's environment: the test's cache, the stand-in hub (or a closed port), no inherited token or offline flag.</summary>
    private static Dictionary<string, string> Env(string hub, FakeHub? server, string? token = null, bool offline = false) => new()
    {
        ["HF_HUB_CACHE"] = hub,
        ["HF_HOME"] = "",
        ["HF_ENDPOINT"] = server?.Address.ToString().TrimEnd('/') ?? "http://127.0.0.1:9",
        ["HF_TOKEN"] = token ?? "",
        ["HF_HUB_OFFLINE"] = offline ? "1" : "",
    };

    private static Task<(int Exit, string Out, string Error)> Keyembed(Dictionary<string, string> env, params string[] args) => CliProcess.RunAsync(args, env);

    private static string Sha256Of(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));

    private static void OneErrorLine(string error, params string[] contains)
    {
        var lines = error.TrimEnd().Split('\n').Where(l => !l.StartsWith("pull: ", StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, error);
        Assert.StartsWith("error: ", lines[0]);
        foreach (var text in contains) Assert.Contains(text, lines[0]);
    }

    private static int ResolveRequests(FakeHub server) => server.Requests.Count(r => r.Path.Contains("/resolve/", StringComparison.Ordinal));

    [Fact]
    public async Task A_pulled_model_embeds_offline_by_its_name_as_its_folder_does()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();

        var pull = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.True(pull.Exit == 0, pull.Error);

        // huggingface_hub's layout: refs/main → commit, snapshot files as relative links into blobs/ (LFS files by sha256).
        string commit = server.CommitOf(Tiny, "main");
        string repo = HuggingFaceCache.RepoFolder(hub, "test", "bert-tiny-random");
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "main")));
        string snapshot = Path.Combine(repo, "snapshots", commit);
        // Only what KeyEmbed reads: the golden folder's io.safetensors and README.md stay on the hub.
        Assert.Equal(TinyFiles, Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var name in TinyFiles)
        {
            var target = new FileInfo(Path.Combine(snapshot, name)).LinkTarget;
            Assert.NotNull(target);
            Assert.StartsWith(Path.Combine("..", "..", "blobs") + Path.DirectorySeparatorChar, target);
            Assert.Equal(File.ReadAllBytes(SharedData.Golden("bert-tiny-random", name)), File.ReadAllBytes(Path.Combine(snapshot, name)));
        }
        Assert.Equal(Path.Combine("..", "..", "blobs", Sha256Of(SharedData.Golden("bert-tiny-random", "model.safetensors"))),
            new FileInfo(Path.Combine(snapshot, "model.safetensors")).LinkTarget);
        Assert.Empty(Directory.GetFiles(Path.Combine(repo, "blobs"), "*.incomplete"));
        Assert.Contains(snapshot, pull.Out);
        Assert.Contains("pull: model.safetensors: done, sha256 checked", pull.Error);
        // The large file came through the Hub's redirect to its CDN.
        Assert.Contains(server.Requests, r => r.Path.StartsWith("/cdn/", StringComparison.Ordinal));

        // No network: offline flag set and the hub never asked.
        int before = server.Requests.Count;
        var byName = await Keyembed(Env(hub, null, offline: true), "embed", "--model", Tiny, "--format", "csv", "the key words");
        Assert.True(byName.Exit == 0, byName.Error);
        Assert.Equal(before, server.Requests.Count);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, CliApp.Run(["embed", "--model", SharedData.Golden("bert-tiny-random"), "--format", "csv", "the key words"], stdout, stderr, TextReader.Null));
        Assert.Equal(stdout.ToString(), byName.Out);

        // Pulling again fetches nothing: the blobs are there.
        int resolves = ResolveRequests(server);
        var again = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.True(again.Exit == 0, again.Error);
        Assert.Equal(resolves, ResolveRequests(server));
        Assert.Contains("already in the cache", again.Error);
    }

    [Fact]
    public async Task A_sharded_model_listed_without_blob_ids_is_named_and_checked_by_the_resolve_headers()
    {
        using var dir = new TempDir();
        string folder = dir.File("sharded");
        Directory.CreateDirectory(folder);
        Checkpoints.ShardedCheckpointTests.WriteShardedCopy(folder, safetensors: true);
        string hub = dir.File("hub");
        await using var server = await FakeHub.StartAsync(new Dictionary<string, FakeHub.Repo> { ["test/sharded"] = new(folder, ["main"]) });
        server.ListBlobs = false;
        const string shard = "model-00002-of-00002.safetensors";

        // Without a listed sha256, the 302's X-Linked-Etag is the one checked.
        server.Corrupt = shard;
        var corrupt = await Keyembed(Env(hub, server), "pull", "test/sharded");
        Assert.Equal(CliApp.UserError, corrupt.Exit);
        OneErrorLine(corrupt.Error, shard, "sha256", Sha256Of(Path.Combine(folder, shard)));
        string repo = HuggingFaceCache.RepoFolder(hub, "test", "sharded");
        Assert.False(Directory.Exists(Path.Combine(repo, "snapshots")));

        server.Corrupt = null;
        var pull = await Keyembed(Env(hub, server), "pull", "test/sharded");
        Assert.True(pull.Exit == 0, pull.Error);
        Assert.Contains(server.Requests, r => r.Method == "HEAD");
        string snapshot = Path.Combine(repo, "snapshots", server.CommitOf("test/sharded", "main"));
        Assert.Equal(["config.json", "model-00001-of-00002.safetensors", shard, "model.safetensors.index.json", "vocab.txt"],
            Directory.GetFiles(snapshot).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        // Blobs are named as huggingface_hub names them: large files by sha256 (X-Linked-Etag), others by ETag (git blob id).
        Assert.Equal(Path.Combine("..", "..", "blobs", Sha256Of(Path.Combine(folder, shard))), new FileInfo(Path.Combine(snapshot, shard)).LinkTarget);
        byte[] vocab = File.ReadAllBytes(Path.Combine(folder, "vocab.txt"));
        string gitOid = Convert.ToHexStringLower(SHA1.HashData([.. System.Text.Encoding.ASCII.GetBytes($"blob {vocab.Length}\0"), .. vocab]));
        Assert.Equal(Path.Combine("..", "..", "blobs", gitOid), new FileInfo(Path.Combine(snapshot, "vocab.txt")).LinkTarget);

        var byName = await Keyembed(Env(hub, null, offline: true), "embed", "--model", "test/sharded", "--format", "csv", "deep learning");
        Assert.True(byName.Exit == 0, byName.Error);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        Assert.Equal(0, CliApp.Run(["embed", "--model", folder, "--format", "csv", "deep learning"], stdout, stderr, TextReader.Null));
        Assert.Equal(stdout.ToString(), byName.Out);
    }

    [Fact]
    public async Task A_model_type_keyembed_cannot_run_is_refused_before_its_weights_and_a_missing_vocabulary_is_warned_of()
    {
        using var dir = new TempDir();
        string gpt = dir.File("gpt");
        Directory.CreateDirectory(gpt);
        File.WriteAllText(Path.Combine(gpt, "config.json"), "{\"model_type\": \"gpt2\", \"n_layer\": 2}");
        foreach (var file in new[] { "model.safetensors", "vocab.txt" }) File.Copy(SharedData.Golden("bert-tiny-random", file), Path.Combine(gpt, file));
        string hub = dir.File("hub");
        await using var server = await FakeHub.StartAsync(new Dictionary<string, FakeHub.Repo>
        {
            ["test/gpt"] = new(gpt, ["main"]),
            ["test/roberta"] = new(SharedData.Golden("roberta-tiny-random"), ["main"]),
        });

        var refused = await Keyembed(Env(hub, server), "pull", "test/gpt");
        Assert.Equal(CliApp.UserError, refused.Exit);
        OneErrorLine(refused.Error, "model_type 'gpt2'", "not downloaded");
        Assert.Contains(server.Requests, r => r.Path.EndsWith("/config.json", StringComparison.Ordinal));
        Assert.DoesNotContain(server.Requests, r => r.Path.EndsWith("/model.safetensors", StringComparison.Ordinal) || r.Path.StartsWith("/cdn/", StringComparison.Ordinal));

        // roberta-tiny-random has weights and config but no tokenizer: pulled, with one warning.
        var noVocabulary = await Keyembed(Env(hub, server), "pull", "test/roberta");
        Assert.True(noVocabulary.Exit == 0, noVocabulary.Error);
        Assert.Single(noVocabulary.Error.Split('\n'), l => l.StartsWith("warning: test/roberta has no vocabulary file", StringComparison.Ordinal));
        Assert.DoesNotContain("warning:", (await Keyembed(Env(hub, server), "pull", Tiny)).Error);
    }

    [Fact]
    public async Task A_revision_is_pulled_under_its_own_ref_and_resolves()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();

        var pull = await Keyembed(Env(hub, server), "pull", Tiny + "@v1");
        Assert.True(pull.Exit == 0, pull.Error);

        string repo = HuggingFaceCache.RepoFolder(hub, "test", "bert-tiny-random");
        string commit = server.CommitOf(Tiny, "v1");
        Assert.NotEqual(server.CommitOf(Tiny, "main"), commit);
        Assert.Equal(commit, File.ReadAllText(Path.Combine(repo, "refs", "v1")));
        Assert.False(File.Exists(Path.Combine(repo, "refs", "main")));
        Assert.Contains(server.Requests, r => r.Path == $"/api/models/{Tiny}/revision/v1");
        // Files come from the commit the revision named.
        Assert.All(server.Requests.Where(r => r.Path.Contains("/resolve/", StringComparison.Ordinal)), r => Assert.Contains($"/resolve/{commit}/", r.Path));
        string? Env1(string n) => n == "HF_HUB_CACHE" ? hub : null;
        Assert.Equal(Path.Combine(repo, "snapshots", commit), HuggingFaceCache.Resolve(Tiny + "@v1", Env1));
        var absent = Assert.Throws<KeyEmbedException>(() => HuggingFaceCache.Resolve(Tiny, Env1));
        Assert.Contains("keyembed pull test/bert-tiny-random@main", absent.Message);

        // A commit is its own name: no ref is written for it.
        var byCommit = await Keyembed(Env(hub, server), "pull", $"{Tiny}@{server.CommitOf(Tiny, "main")}");
        Assert.True(byCommit.Exit == 0, byCommit.Error);
        Assert.Equal(["v1"], Directory.GetFiles(Path.Combine(repo, "refs")).Select(Path.GetFileName));
        Assert.Equal(Path.Combine(repo, "snapshots", server.CommitOf(Tiny, "main")), HuggingFaceCache.Resolve($"{Tiny}@{server.CommitOf(Tiny, "main")}", Env1));
    }

    [Fact]
    public async Task A_broken_download_resumes_with_a_range_request_and_ends_byte_identical()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();
        string golden = SharedData.Golden("bert-tiny-random", "model.safetensors");
        long size = new FileInfo(golden).Length;
        server.DropOnce = "model.safetensors";
        server.DropAfter = size / 2;

        var broken = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.Equal(CliApp.RuntimeError, broken.Exit);
        OneErrorLine(broken.Error, "model.safetensors", "again to resume");
        Assert.Equal("", broken.Out);
        string repo = HuggingFaceCache.RepoFolder(hub, "test", "bert-tiny-random");
        Assert.False(Directory.Exists(Path.Combine(repo, "snapshots")));
        Assert.False(Directory.Exists(Path.Combine(repo, "refs")));
        string partial = Path.Combine(repo, "blobs", Sha256Of(golden) + ".incomplete");
        long kept = new FileInfo(partial).Length;
        Assert.InRange(kept, 1, size / 2);

        var resumed = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.True(resumed.Exit == 0, resumed.Error);
        Assert.Contains(server.Requests, r => r.Path.EndsWith("/model.safetensors", StringComparison.Ordinal) && r.Range == $"bytes={kept}-");
        Assert.Contains("model.safetensors: resuming at", resumed.Error);
        string commit = server.CommitOf(Tiny, "main");
        Assert.Equal(File.ReadAllBytes(golden), File.ReadAllBytes(Path.Combine(repo, "snapshots", commit, "model.safetensors")));
        Assert.False(File.Exists(partial));
    }

    [Fact]
    public async Task Wrong_bytes_for_a_large_file_fail_on_sha256_naming_it_and_add_nothing()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();
        server.Corrupt = "model.safetensors";

        var corrupt = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.Equal(CliApp.UserError, corrupt.Exit);
        OneErrorLine(corrupt.Error, "model.safetensors", "sha256", Sha256Of(SharedData.Golden("bert-tiny-random", "model.safetensors")));
        Assert.Equal("", corrupt.Out);
        string repo = HuggingFaceCache.RepoFolder(hub, "test", "bert-tiny-random");
        Assert.False(Directory.Exists(Path.Combine(repo, "snapshots")));
        Assert.False(Directory.Exists(Path.Combine(repo, "refs")));
        Assert.Empty(Directory.GetFiles(Path.Combine(repo, "blobs"), "*.incomplete"));
        Assert.False(File.Exists(Path.Combine(repo, "blobs", Sha256Of(SharedData.Golden("bert-tiny-random", "model.safetensors")))));

        server.Corrupt = null;
        var fixedPull = await Keyembed(Env(hub, server), "pull", Tiny);
        Assert.True(fixedPull.Exit == 0, fixedPull.Error);
    }

    [Fact]
    public async Task Hf_token_is_sent_as_a_bearer_token_and_a_401_says_to_set_it()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub(token: "hf_secret");

        var refused = await Keyembed(Env(hub, server), "pull", "test/private");
        Assert.Equal(CliApp.UserError, refused.Exit);
        OneErrorLine(refused.Error, "401", "HF_TOKEN");

        var wrong = await Keyembed(Env(hub, server, token: "hf_wrong"), "pull", "test/private");
        Assert.Equal(CliApp.UserError, wrong.Exit);
        OneErrorLine(wrong.Error, "refused HF_TOKEN");

        int before = server.Requests.Count;
        var pull = await Keyembed(Env(hub, server, token: "hf_secret"), "pull", "test/private");
        Assert.True(pull.Exit == 0, pull.Error);
        // The CDN a large file redirects to is not the Hub: the token goes to the Hub's routes.
        var sent = server.Requests.Skip(before).Where(r => !r.Path.StartsWith("/cdn/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(sent);
        Assert.All(sent, r => Assert.Equal("Bearer hf_secret", r.Authorization));
        Assert.DoesNotContain("hf_secret", pull.Out + pull.Error);
    }

    [Fact]
    public async Task An_unknown_model_or_revision_is_one_line_with_exit_code_2_and_writes_nothing()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();

        var model = await Keyembed(Env(hub, server), "pull", "test/absent");
        Assert.Equal(CliApp.UserError, model.Exit);
        OneErrorLine(model.Error, "404", "test/absent");
        Assert.Equal("", model.Out);

        var revision = await Keyembed(Env(hub, server), "pull", Tiny + "@nope");
        Assert.Equal(CliApp.UserError, revision.Exit);
        OneErrorLine(revision.Error, "revision 'nope'");

        Assert.False(Directory.Exists(hub));

        var unreachable = await Keyembed(Env(hub, null), "pull", Tiny);
        Assert.Equal(CliApp.RuntimeError, unreachable.Exit);
        OneErrorLine(unreachable.Error, "cannot reach http://127.0.0.1:9");
    }

    [Fact]
    public void Only_pull_downloads_the_one_http_client_is_the_downloader_and_only_the_pull_command_makes_one()
    {
        var sources = Directory.EnumerateFiles(Path.Combine(SharedData.RepoRoot, "src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(f => Path.GetRelativePath(SharedData.RepoRoot, f).Replace('\\', '/'), File.ReadAllText);
        Assert.Equal(["src/KeyEmbed/Models/HubDownloader.cs"],
            sources.Where(s => s.Value.Contains("HttpClient", StringComparison.Ordinal) || s.Value.Contains("SocketsHttpHandler", StringComparison.Ordinal)).Select(s => s.Key));
        Assert.Equal(["src/KeyEmbed.Cli/Commands/PullCommand.cs"],
            sources.Where(s => s.Value.Contains("new HubDownloader(", StringComparison.Ordinal)).Select(s => s.Key));
    }

    [Fact]
    public async Task Hf_hub_offline_refuses_to_pull_without_asking_the_hub()
    {
        using var dir = new TempDir();
        string hub = dir.File("hub");
        await using var server = await StartHub();

        var offline = await Keyembed(Env(hub, server, offline: true), "pull", Tiny);
        Assert.Equal(CliApp.UserError, offline.Exit);
        OneErrorLine(offline.Error, "HF_HUB_OFFLINE");
        Assert.Empty(server.Requests);
        Assert.False(Directory.Exists(hub));
    }
}
