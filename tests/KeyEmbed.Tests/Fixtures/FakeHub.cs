using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using KeyEmbed.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>
/// A loopback stand-in for the Hugging Face Hub's two download routes, answering from folders under ../shared/golden:
/// <c>GET /api/models/ORG/NAME/revision/REV[?blobs=true]</c> (commit + siblings with size, blob id and, for LFS-style
/// files, sha256) and <c>GET|HEAD /ORG/NAME/resolve/REV/PATH</c> (bytes, <c>X-Repo-Commit</c>, <c>ETag</c> /
/// <c>X-Linked-Etag</c>, <c>Range: bytes=N-</c>); as on the Hub, large (LFS-style) files are a 302 to a "CDN" route on
/// another host name (<c>localhost</c> instead of <c>127.0.0.1</c>). Commits, sizes and hashes are computed from the
/// files when the hub starts. Faults on demand: a connection dropped once mid-file, a file served with wrong bytes, a token required.
/// Every request is recorded.
/// </summary>
internal sealed class FakeHub : IAsyncDisposable
{
    /// <summary>A repository: its files' folder, its revisions (each named revision gets its own commit) and an optional required token.</summary>
    public sealed record Repo(string Folder, string[] Revisions, string? Token = null);

    public sealed record Request(string Method, string Path, string? Range, string? Authorization);

    private sealed record Entry(string Path, byte[] Bytes, string Sha256, string GitOid, bool Lfs);

    private readonly WebApplication _app;
    private readonly Dictionary<string, (Repo Repo, Dictionary<string, string> Commits, List<Entry> Files)> _repos = new(StringComparer.Ordinal);
    private int _dropped;

    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>The first GET of this path (in any repository) is cut after <see cref="DropAfter"/> bytes of the body.</summary>
    public string? DropOnce { get; set; }

    public long DropAfter { get; set; }

    /// <summary>This path is served with one byte changed (same length, same advertised hashes).</summary>
    public string? Corrupt { get; set; }

    /// <summary>When false, the listing has file names only (no size, blob id or LFS sha256), as without <c>?blobs=true</c>.</summary>
    public bool ListBlobs { get; set; } = true;

    public Uri Address { get; }

    private FakeHub(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The commit the hub gives <paramref name="repo"/>'s <paramref name="revision"/>.</summary>
    public string CommitOf(string repo, string revision) => _repos[repo].Commits[revision];

    public static async Task<FakeHub> StartAsync(IReadOnlyDictionary<string, Repo> repos)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        FakeHub? hub = null;
        app.Run(context => hub!.AnswerAsync(context));
        await app.StartAsync();
        hub = new FakeHub(app, app.ListeningUri());
        foreach (var (id, repo) in repos)
        {
            var files = Directory.EnumerateFiles(repo.Folder, "*", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(repo.Folder, f).Replace('\\', '/'))
                .Order(StringComparer.Ordinal)
                .Select(path =>
                {
                    var bytes = File.ReadAllBytes(Path.Combine(repo.Folder, path));
                    bool lfs = path.EndsWith(".safetensors", StringComparison.Ordinal) || path.EndsWith(".bin", StringComparison.Ordinal)
                        || path.EndsWith(".onnx", StringComparison.Ordinal) || path.EndsWith(".model", StringComparison.Ordinal);
                    string sha256 = Convert.ToHexStringLower(SHA256.HashData(bytes));
                    // Git's blob id: of the content, or (LFS) of the pointer file git stores instead.
                    byte[] stored = lfs ? Encoding.ASCII.GetBytes($"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {bytes.Length}\n") : bytes;
                    string oid = Convert.ToHexStringLower(SHA1.HashData([.. Encoding.ASCII.GetBytes($"blob {stored.Length}\0"), .. stored]));
                    return new Entry(path, bytes, sha256, oid, lfs);
                })
                .ToList();
            string content = string.Join("\n", files.Select(f => $"{f.Path} {f.GitOid}"));
            var commits = repo.Revisions.ToDictionary(r => r, r => Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes($"{id}\n{r}\n{content}"))), StringComparer.Ordinal);
            hub._repos[id] = (repo, commits, files);
        }
        return hub;
    }

    private async Task AnswerAsync(HttpContext context)
    {
        var request = context.Request;
        string path = request.Path.Value ?? "";
        Requests.Enqueue(new Request(request.Method, path, request.Headers.Range.FirstOrDefault(), request.Headers.Authorization.FirstOrDefault()));
        var response = context.Response;
        string[] parts = [.. path.TrimStart('/').Split('/').Select(Uri.UnescapeDataString)];

        if (parts.Length == 4 && parts[0] == "cdn")
        {
            // The CDN: no token asked, no commit header; the bytes of the blob named by its sha256.
            var blob = _repos.TryGetValue($"{parts[1]}/{parts[2]}", out var owner) ? owner.Files.FirstOrDefault(f => f.Lfs && f.Sha256 == parts[3]) : null;
            if (blob is null) response.StatusCode = 404;
            else await ServeAsync(context, blob);
            return;
        }
        bool api = parts.Length >= 5 && parts[0] == "api" && parts[1] == "models" && parts[4] == "revision";
        bool resolve = !api && parts.Length >= 5 && parts[2] == "resolve";
        if (!api && !resolve)
        {
            response.StatusCode = 404;
            return;
        }
        string repoId = api ? $"{parts[2]}/{parts[3]}" : $"{parts[0]}/{parts[1]}";
        if (!_repos.TryGetValue(repoId, out var repo))
        {
            response.StatusCode = 404;
            response.Headers["X-Error-Code"] = "RepoNotFound";
            return;
        }
        if (repo.Repo.Token is { } token && request.Headers.Authorization.FirstOrDefault() != $"Bearer {token}")
        {
            response.StatusCode = 401;
            response.Headers["X-Error-Code"] = "RepoNotFound";
            return;
        }
        string revision = api ? string.Join('/', parts[5..]) : parts[3];
        string? commit = repo.Commits.TryGetValue(revision, out var c) ? c : repo.Commits.Values.Contains(revision) ? revision : null;
        if (commit is null)
        {
            response.StatusCode = 404;
            response.Headers["X-Error-Code"] = "RevisionNotFound";
            return;
        }

        if (api)
        {
            bool blobs = request.Query["blobs"] == "true" && ListBlobs;
            var siblings = repo.Files.Select(f => blobs
                ? (object)new Dictionary<string, object>
                {
                    ["rfilename"] = f.Path,
                    ["size"] = f.Bytes.Length,
                    ["blobId"] = f.GitOid,
                    ["lfs"] = f.Lfs ? new Dictionary<string, object> { ["sha256"] = f.Sha256, ["size"] = f.Bytes.Length, ["pointerSize"] = 130 } : null!,
                }.Where(kv => kv.Value is not null).ToDictionary()
                : new Dictionary<string, object> { ["rfilename"] = f.Path });
            response.ContentType = "application/json";
            await response.WriteAsync(JsonSerializer.Serialize(new Dictionary<string, object> { ["id"] = repoId, ["sha"] = commit, ["siblings"] = siblings }));
            return;
        }

        string file = string.Join('/', parts[4..]);
        var entry = repo.Files.FirstOrDefault(f => f.Path == file);
        if (entry is null)
        {
            response.StatusCode = 404;
            response.Headers["X-Error-Code"] = "EntryNotFound";
            return;
        }
        response.Headers["X-Repo-Commit"] = commit;
        response.Headers.ETag = $"\"{(entry.Lfs ? entry.Sha256 : entry.GitOid)}\"";
        if (entry.Lfs)
        {
            response.Headers["X-Linked-Etag"] = $"\"{entry.Sha256}\"";
            response.Headers["X-Linked-Size"] = entry.Bytes.Length.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (entry.Lfs)
        {
            response.StatusCode = 302;
            response.Headers.Location = $"http://localhost:{Address.Port}/cdn/{repoId}/{entry.Sha256}";
            return;
        }
        await ServeAsync(context, entry);
    }

    /// <summary>A file's bytes (whole or from <c>Range: bytes=N-</c>), with the faults asked for.</summary>
    private async Task ServeAsync(HttpContext context, Entry entry)
    {
        var (request, response, file) = (context.Request, context.Response, entry.Path);
        response.Headers.AcceptRanges = "bytes";
        byte[] bytes = entry.Bytes;
        if (Corrupt == file)
        {
            bytes = (byte[])bytes.Clone();
            bytes[bytes.Length / 2] ^= 0x5A;
        }
        long from = 0;
        if (request.Headers.Range.FirstOrDefault() is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            from = long.Parse(range["bytes=".Length..^1], System.Globalization.CultureInfo.InvariantCulture);
            if (from >= bytes.Length)
            {
                response.StatusCode = 416;
                response.Headers.ContentRange = $"bytes */{bytes.Length}";
                return;
            }
            response.StatusCode = 206;
            response.Headers.ContentRange = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
        }
        response.ContentLength = bytes.Length - from;
        if (HttpMethods.IsHead(request.Method)) return;
        if (DropOnce == file && Interlocked.Exchange(ref _dropped, 1) == 0)
        {
            await response.Body.WriteAsync(bytes.AsMemory((int)from, (int)Math.Min(DropAfter, bytes.Length - from)));
            await response.Body.FlushAsync();
            await Task.Delay(300); // let the client read what was sent before the connection goes
            context.Abort();
            return;
        }
        await response.Body.WriteAsync(bytes.AsMemory((int)from));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
