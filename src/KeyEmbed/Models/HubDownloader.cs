using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace KeyEmbed.Models;

/// <summary>One file a pull fetches: its path in the repository, size, the LFS sha256 the Hub lists (large files) and its blob name.</summary>
public sealed record HubFile(string Path, long? Size, string? Sha256, string? BlobId);

/// <summary>What a pull did: the commit a revision named, the snapshot folder, the files and how many bytes came over the network.</summary>
public sealed record PullResult(string Repo, string Revision, string Commit, string Snapshot, IReadOnlyList<HubFile> Files, long DownloadedBytes);

/// <summary>What <see cref="HubDownloader"/> reports while it works (the CLI draws a bar or writes lines).</summary>
public interface IPullProgress
{
    /// <summary>A file's download starts; <paramref name="resumedAt"/> bytes were already on disk from a broken download.</summary>
    void Started(HubFile file, long resumedAt);

    /// <summary><paramref name="bytes"/> more bytes of <paramref name="file"/> arrived.</summary>
    void Advanced(HubFile file, long bytes);

    /// <summary>A file is complete and checked; <paramref name="cached"/> when its blob was already in the cache.</summary>
    void Finished(HubFile file, bool cached);
}

/// <summary>
/// <c>keyembed pull ORG/NAME[@revision]</c>: fetches the files KeyEmbed needs (<see cref="HubFileSelection"/>) from the
/// Hugging Face Hub's HTTP routes into the local Hugging Face cache, laid out as huggingface_hub lays it out, so that
/// <see cref="HuggingFaceCache.Resolve"/> (and Python's libraries) find it:
/// <c>models--ORG--NAME/blobs/&lt;sha256 or git blob id&gt;</c>, <c>snapshots/&lt;commit&gt;/&lt;path&gt;</c> as relative
/// symbolic links to the blobs, <c>refs/&lt;revision&gt;</c> holding the commit.
/// <list type="bullet">
/// <item><c>GET {HF_ENDPOINT}/api/models/ORG/NAME/revision/REV?blobs=true</c>: the commit, each file's size, blob id and
/// (large, LFS files) sha256.</item>
/// <item><c>GET {HF_ENDPOINT}/ORG/NAME/resolve/COMMIT/PATH</c>: the bytes (the Hub redirects large files to its CDN),
/// into <c>blobs/NAME.incomplete</c>; a broken download is resumed from there with <c>Range: bytes=N-</c>.</item>
/// <item>Each file's size, and each large file's sha256, is checked before it becomes a blob; a mismatch deletes it.</item>
/// <item>Links and the ref are written only when every file is in: a failed pull adds nothing to <c>snapshots/</c>.</item>
/// </list>
/// <c>HF_ENDPOINT</c> (default https://huggingface.co), <c>HF_TOKEN</c> (sent as a bearer token), <c>HF_HUB_OFFLINE</c>
/// (1/true/yes/on: pull refuses) and the cache variables of <see cref="HuggingFaceCache.HubDirectory"/> are read from
/// the environment given. Nothing else in KeyEmbed downloads.
/// </summary>
public sealed partial class HubDownloader : IDisposable
{
    /// <summary>The Hub's address when <c>HF_ENDPOINT</c> is not set.</summary>
    public const string DefaultEndpoint = "https://huggingface.co";

    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(60);

    private readonly Func<string, string?> _environment;
    private readonly HttpClient _http;
    private readonly HttpClient _headHttp;
    private readonly string _endpoint;
    private readonly string? _token;

    [GeneratedRegex("^[A-Za-z0-9_-]{6,128}$")]
    private static partial Regex BlobNamePattern();

    [GeneratedRegex("^[0-9a-f]{64}$")]
    private static partial Regex Sha256Pattern();

    /// <summary>A downloader reading its settings from <paramref name="environment"/>.</summary>
    /// <exception cref="KeyEmbedException"><c>HF_ENDPOINT</c> is not an http(s) address.</exception>
    public HubDownloader(Func<string, string?> environment)
    {
        _environment = environment;
        string endpoint = environment("HF_ENDPOINT") is { Length: > 0 } e ? e.Trim().TrimEnd('/') : DefaultEndpoint;
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw KeyEmbedException.Input($"HF_ENDPOINT '{endpoint}' is not an http:// or https:// address");
        _endpoint = endpoint;
        _token = environment("HF_TOKEN") is { Length: > 0 } t ? t.Trim() : null;
        _http = Client(allowRedirect: true);
        // HEAD stays on the Hub: a large file's 302 to the CDN carries the X-Linked-Etag / X-Linked-Size it is named by.
        _headHttp = Client(allowRedirect: false);
    }

    private static HttpClient Client(bool allowRedirect)
    {
        var client = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = allowRedirect,
            AutomaticDecompression = DecompressionMethods.None,
            ConnectTimeout = TimeSpan.FromSeconds(30),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("keyembed", typeof(HubDownloader).Assembly.GetName().Version?.ToString() ?? "0"));
        return client;
    }

    /// <summary>Whether <c>HF_HUB_OFFLINE</c> asks for no network (1, true, yes, on; as huggingface_hub reads it).</summary>
    public static bool IsOffline(Func<string, string?> environment) =>
        environment("HF_HUB_OFFLINE")?.Trim().ToUpperInvariant() is "1" or "TRUE" or "YES" or "ON";

    /// <summary>Pulls <paramref name="repoId"/> (<c>ORG/NAME[@revision]</c>) into the cache; see the class remarks.</summary>
    /// <exception cref="KeyEmbedException">
    /// <see cref="ErrorKind.InvalidInput"/>: not a name, offline, 401/403/404; <see cref="ErrorKind.InvalidCheckpoint"/>: a
    /// file's size or sha256 is not what the Hub lists; <see cref="ErrorKind.UnsupportedArchitecture"/>: no weights
    /// KeyEmbed reads; <see cref="ErrorKind.Runtime"/>: the network failed or the Hub answered an error (run pull again:
    /// it resumes).
    /// </exception>
    public async Task<PullResult> PullAsync(string repoId, IPullProgress? progress = null, CancellationToken cancellation = default)
    {
        var (org, name, revision) = HuggingFaceCache.ParseRepoId(repoId)
            ?? throw KeyEmbedException.Input($"pull: '{repoId}' is not a Hugging Face name (ORG/NAME or ORG/NAME@revision)");
        string repo = $"{org}/{name}";
        if (IsOffline(_environment))
            throw KeyEmbedException.Input($"pull {repoId}: HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to pull (models already in the cache still load by name: {repo})");

        var (commit, listing) = await ListAsync(repo, revision, cancellation);
        string hub = HuggingFaceCache.HubDirectory(_environment);
        string repoFolder = HuggingFaceCache.RepoFolder(hub, org, name);
        string blobs = Path.Combine(repoFolder, "blobs");
        CreateFolder(blobs);

        var wanted = HubFileSelection.Select($"{repo}@{revision}", listing.Keys);
        var files = new List<(HubFile File, string Blob)>();
        long downloaded = 0;
        for (int i = 0; i < wanted.Count; i++)
        {
            var (file, blob, bytes) = await FetchAsync(repo, commit, listing[wanted[i]], blobs, progress, cancellation);
            files.Add((file, blob));
            downloaded += bytes;
            // config.json comes first: a model KeyEmbed cannot run is refused before its weights are downloaded.
            if (file.Path == "config.json") CheckModelType(repo, revision, blob);
            // A sharded checkpoint's index names its shards: fetch those too (they are in the listing).
            if (file.Path.EndsWith(".index.json", StringComparison.Ordinal))
            {
                IReadOnlyList<string> shards;
                try { shards = Checkpoints.ShardedCheckpoint.ListShards(blob); }
                catch (KeyEmbedException e) { throw new KeyEmbedException(e.Kind, $"{repo}@{revision}: {file.Path}: {e.Message}", e); }
                foreach (var shard in shards)
                {
                    if (!listing.ContainsKey(shard))
                        throw KeyEmbedException.Checkpoint($"{repo}@{revision}: {file.Path}", $"names the shard '{shard}', which the repository does not have");
                    if (!wanted.Contains(shard)) wanted = [.. wanted, shard];
                }
            }
        }

        // Every blob is in and checked: now the snapshot's links, then the ref (so a failure leaves no half snapshot).
        string snapshot = Path.Combine(repoFolder, "snapshots", commit);
        try
        {
            foreach (var (file, blob) in files) Link(Path.Combine(snapshot, file.Path.Replace('/', Path.DirectorySeparatorChar)), blob);
            if (!string.Equals(revision, commit, StringComparison.Ordinal))
            {
                string reference = Path.Combine(repoFolder, "refs", revision.Replace('/', Path.DirectorySeparatorChar));
                CreateFolder(Path.GetDirectoryName(reference)!);
                IO.AtomicFile.WriteAllBytes(reference, System.Text.Encoding.ASCII.GetBytes(commit), $"pull: cannot write {reference}");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KeyEmbedException.Input($"pull: cannot write the snapshot {snapshot}: {e.Message}");
        }
        return new PullResult(repo, revision, commit, snapshot, [.. files.Select(f => f.File)], downloaded);
    }

    /// <summary>Refuses a <c>config.json</c> whose <c>model_type</c> no registered architecture runs (a config without one passes: <see cref="ModelLocator"/> decides).</summary>
    private static void CheckModelType(string repo, string revision, string config)
    {
        string? modelType = null;
        try
        {
            using var doc = IO.StrictJson.Parse(File.ReadAllBytes(config));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model_type", out var type) && type.ValueKind == JsonValueKind.String)
                modelType = type.GetString();
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Checkpoint($"pull {repo}@{revision}: config.json", $"not valid JSON ({e.Message})", e);
        }
        if (modelType is not null && Architectures.ArchitectureRegistry.ByModelType(modelType) is null)
            throw new KeyEmbedException(ErrorKind.UnsupportedArchitecture,
                $"pull {repo}@{revision}: model_type '{modelType}' is not one KeyEmbed runs ({Architectures.ArchitectureRegistry.Supported}); its weights were not downloaded");
    }

    /// <summary>The commit <paramref name="revision"/> names and the repository's files by path.</summary>
    private async Task<(string Commit, Dictionary<string, HubFile> Files)> ListAsync(string repo, string revision, CancellationToken cancellation)
    {
        string url = $"{_endpoint}/api/models/{repo}/revision/{Uri.EscapeDataString(revision)}?blobs=true";
        using var response = await SendAsync(HttpMethod.Get, url, repo, revision, null, cancellation);
        JsonDocument doc;
        try
        {
            using var cancel = Deadline(cancellation);
            var body = await response.Content.ReadAsByteArrayAsync(cancel.Token);
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new KeyEmbedException(ErrorKind.Runtime, $"pull {repo}@{revision}: {_endpoint} answered the model listing with something that is not JSON ({e.Message}); is HF_ENDPOINT a Hugging Face Hub?");
        }
        catch (Exception e) when (IsNetworkFailure(e, cancellation))
        {
            throw Broken(repo, revision, "the model listing", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            string? commit = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("sha", out var sha) && sha.ValueKind == JsonValueKind.String ? sha.GetString() : null;
            if (commit is null || !HuggingFaceCache.IsCommit(commit))
                throw new KeyEmbedException(ErrorKind.Runtime, $"pull {repo}@{revision}: {_endpoint}'s model listing has no commit hash ('sha'); is HF_ENDPOINT a Hugging Face Hub?");
            var files = new Dictionary<string, HubFile>(StringComparer.Ordinal);
            if (root.TryGetProperty("siblings", out var siblings) && siblings.ValueKind == JsonValueKind.Array)
            {
                foreach (var sibling in siblings.EnumerateArray())
                {
                    if (sibling.ValueKind != JsonValueKind.Object || !sibling.TryGetProperty("rfilename", out var path) || path.ValueKind != JsonValueKind.String) continue;
                    string relative = path.GetString()!;
                    if (!IsSafeRelativePath(relative)) continue;
                    long? size = sibling.TryGetProperty("size", out var s) && s.TryGetInt64(out var n) && n >= 0 ? n : null;
                    string? sha256 = null;
                    if (sibling.TryGetProperty("lfs", out var lfs) && lfs.ValueKind == JsonValueKind.Object)
                    {
                        if (lfs.TryGetProperty("sha256", out var h) && h.ValueKind == JsonValueKind.String) sha256 = h.GetString()!.ToLowerInvariant();
                        if (lfs.TryGetProperty("size", out var ls) && ls.TryGetInt64(out var lfsSize) && lfsSize >= 0) size = lfsSize;
                    }
                    if (sha256 is not null && !Sha256Pattern().IsMatch(sha256)) sha256 = null;
                    string? blobId = sibling.TryGetProperty("blobId", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString() : null;
                    files[relative] = new HubFile(relative, size, sha256, blobId);
                }
            }
            return (commit, files);
        }
    }

    /// <summary>
    /// Brings <paramref name="file"/> into <paramref name="blobs"/>: the file (with what a HEAD added when the listing
    /// lacked its blob id), its blob path and the bytes downloaded.
    /// </summary>
    private async Task<(HubFile File, string Blob, long Bytes)> FetchAsync(string repo, string commit, HubFile file, string blobs, IPullProgress? progress, CancellationToken cancellation)
    {
        string url = $"{_endpoint}/{repo}/resolve/{commit}/{string.Join('/', file.Path.Split('/').Select(Uri.EscapeDataString))}";
        // huggingface_hub names a blob by the file's ETag: the sha256 for LFS files, the git blob id for the others.
        string? blobName = file.Sha256 ?? file.BlobId;
        if (blobName is null)
        {
            // No blob id in the listing (an older Hub or a mirror): the resolve route's headers say it, as huggingface_hub reads them.
            using var head = await HeadAsync(url, repo, commit, cancellation);
            CheckCommit(repo, commit, file.Path, head);
            blobName = Etag(head);
            // A large file's linked ETag is its sha256; X-Linked-Size its size.
            if (head.Headers.Contains("X-Linked-Etag") && blobName is not null && Sha256Pattern().IsMatch(blobName)) file = file with { Sha256 = blobName };
            long? linkedSize = head.Headers.TryGetValues("X-Linked-Size", out var sizes) && long.TryParse(sizes.First(), out var n) && n >= 0 ? n : null;
            file = file with { Size = file.Size ?? linkedSize ?? (head.StatusCode == HttpStatusCode.OK ? head.Content.Headers.ContentLength : null) };
        }
        if (blobName is null || !BlobNamePattern().IsMatch(blobName))
            throw new KeyEmbedException(ErrorKind.Runtime, $"pull {repo}: {_endpoint} gives {file.Path} no usable ETag or blob id ('{blobName}'); is HF_ENDPOINT a Hugging Face Hub?");
        string blob = Path.Combine(blobs, blobName);
        if (File.Exists(blob) && (file.Size is null || new FileInfo(blob).Length == file.Size))
        {
            progress?.Finished(file, cached: true);
            return (file, blob, 0);
        }

        string partial = blob + ".incomplete";
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (file.Size is long expected && have > expected) have = 0;
        long received = 0;
        for (int attempt = 0; ; attempt++)
        {
            using var response = await SendAsync(HttpMethod.Get, url, repo, commit, have > 0 ? have : null, cancellation, allowRangeNotSatisfiable: true);
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                // The partial file is already whole (or the server disagrees about it): start over once.
                if (file.Size == have) break;
                if (attempt > 0) throw Unexpected(repo, file.Path, response);
                have = 0;
                continue;
            }
            if (response.StatusCode == HttpStatusCode.PartialContent)
            {
                if (response.Content.Headers.ContentRange?.From != have)
                {
                    if (attempt > 0) throw Unexpected(repo, file.Path, response);
                    have = 0;
                    continue;
                }
            }
            else have = 0; // a full answer: the partial file is replaced
            CheckCommit(repo, commit, file.Path, response);
            progress?.Started(file, have);
            FileStream output;
            try
            {
                output = new FileStream(partial, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None, 1 << 16);
            }
            catch (IOException e)
            {
                throw KeyEmbedException.Input($"pull {repo}: cannot write {partial} ({e.Message}); is another pull of it running?");
            }
            await using (output)
            {
                output.SetLength(have);
                output.Position = have;
                try
                {
                    await using var body = await response.Content.ReadAsStreamAsync(cancellation);
                    var buffer = new byte[1 << 16];
                    while (true)
                    {
                        int read;
                        using (var cancel = Deadline(cancellation)) read = await body.ReadAsync(buffer, cancel.Token);
                        if (read == 0) break;
                        await output.WriteAsync(buffer.AsMemory(0, read), cancellation);
                        received += read;
                        progress?.Advanced(file, read);
                    }
                }
                catch (Exception e) when (IsNetworkFailure(e, cancellation))
                {
                    await output.FlushAsync(CancellationToken.None);
                    throw new KeyEmbedException(ErrorKind.Runtime,
                        $"pull {repo}: the download of {file.Path} broke off at {output.Length} of {file.Size?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} bytes ({Reason(e)}); " +
                        "run the same pull again to resume it", e);
                }
                catch (IOException e)
                {
                    throw KeyEmbedException.Input($"pull {repo}: cannot write {partial} ({e.Message})");
                }
            }
            break;
        }

        long length = new FileInfo(partial).Length;
        if (file.Size is long size && length != size)
        {
            if (length > size) File.Delete(partial);
            throw new KeyEmbedException(ErrorKind.Runtime,
                $"pull {repo}: {file.Path} arrived with {length} bytes, the Hub lists {size}; run the same pull again{(length < size ? " to resume it" : "")}");
        }
        if (file.Sha256 is { } sha256)
        {
            string actual;
            await using (var stream = new FileStream(partial, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellation));
            if (actual != sha256)
            {
                File.Delete(partial);
                throw KeyEmbedException.Checkpoint($"pull {repo}: {file.Path}",
                    $"sha256 {actual} is not the {sha256} the Hub lists; the download was deleted and nothing of it added to the cache (run pull again; if it repeats, a proxy or mirror is changing the file)");
            }
        }
        File.Move(partial, blob, overwrite: true);
        progress?.Finished(file, cached: false);
        return (file, blob, received);
    }

    /// <summary>HEAD on the resolve route, following only redirects that stay on the Hub (a renamed repository), not the CDN's.</summary>
    private async Task<HttpResponseMessage> HeadAsync(string url, string repo, string commit, CancellationToken cancellation)
    {
        for (int hops = 0; ; hops++)
        {
            var response = await SendAsync(HttpMethod.Head, url, repo, commit, null, cancellation, head: true);
            int status = (int)response.StatusCode;
            if (status is < 300 or >= 400 || response.Headers.Location is not { } location || hops == 5) return response;
            var next = new Uri(new Uri(url), location);
            if (!string.Equals(next.Authority, new Uri(url).Authority, StringComparison.OrdinalIgnoreCase)) return response;
            response.Dispose();
            url = next.AbsoluteUri;
        }
    }

    /// <summary>Sends a request with the token (and a range); maps failures to one clear <see cref="KeyEmbedException"/>.</summary>
    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string url, string repo, string revision, long? rangeFrom,
        CancellationToken cancellation, bool allowRangeNotSatisfiable = false, bool head = false)
    {
        using var request = new HttpRequestMessage(method, url);
        if (_token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token);
        if (rangeFrom is long from) request.Headers.Range = new RangeHeaderValue(from, null);
        // Sizes and hashes are of the stored bytes: ask for them as they are.
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("identity"));
        HttpResponseMessage response;
        try
        {
            using var cancel = Deadline(cancellation);
            response = await (head ? _headHttp : _http).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        }
        catch (Exception e) when (IsNetworkFailure(e, cancellation))
        {
            throw new KeyEmbedException(ErrorKind.Runtime, $"pull {repo}@{revision}: cannot reach {_endpoint} ({Reason(e)}); check the network, a proxy, or HF_ENDPOINT", e);
        }
        if (response.IsSuccessStatusCode || (head && (int)response.StatusCode is >= 300 and < 400) || (allowRangeNotSatisfiable && response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)) return response;
        using (response)
        {
            string code = response.Headers.TryGetValues("X-Error-Code", out var codes) ? codes.First() : "";
            throw response.StatusCode switch
            {
                HttpStatusCode.Unauthorized when _token is null => KeyEmbedException.Input(
                    $"pull {repo}: the Hub answered 401: no such model, or it is private or gated; check the name, or set HF_TOKEN to a token that may read it"),
                HttpStatusCode.Unauthorized => KeyEmbedException.Input(
                    $"pull {repo}: the Hub refused HF_TOKEN (401): the token is invalid or may not read {repo}; check the name and the token"),
                HttpStatusCode.Forbidden => KeyEmbedException.Input(
                    $"pull {repo}: the Hub answered 403: {repo} is gated or restricted; accept its terms on its page and set HF_TOKEN to a token of that account"),
                HttpStatusCode.NotFound when code == "RevisionNotFound" => KeyEmbedException.Input(
                    $"pull {repo}@{revision}: the Hub has no revision '{revision}' of {repo} (404); give a branch, tag or commit it has"),
                HttpStatusCode.NotFound when code == "EntryNotFound" => KeyEmbedException.Input(
                    $"pull {repo}@{revision}: the Hub lists a file it then does not serve (404: {url}); run pull again later"),
                HttpStatusCode.NotFound => KeyEmbedException.Input(
                    $"pull {repo}: the Hub has no model {repo} (404 at {_endpoint}); check the name (ORG/NAME, as on its page)"),
                _ => new KeyEmbedException(ErrorKind.Runtime,
                    $"pull {repo}@{revision}: {_endpoint} answered {(int)response.StatusCode} {response.ReasonPhrase}; try again later"),
            };
        }
    }

    /// <summary>A resolve answer's <c>X-Repo-Commit</c>, when there is one, must be the commit asked for.</summary>
    private void CheckCommit(string repo, string commit, string path, HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("X-Repo-Commit", out var values) && values.FirstOrDefault() is { Length: > 0 } served && served != commit)
            throw new KeyEmbedException(ErrorKind.Runtime, $"pull {repo}: {_endpoint} served {path} from commit {served}, not {commit} as asked; run pull again");
    }

    private KeyEmbedException Unexpected(string repo, string path, HttpResponseMessage response) => new(ErrorKind.Runtime,
        $"pull {repo}: {_endpoint} answered a resumed download of {path} with {(int)response.StatusCode} and range '{response.Content.Headers.ContentRange}'; " +
        "delete the .incomplete file in the cache's blobs folder and pull again");

    private KeyEmbedException Broken(string repo, string revision, string what, Exception e) => new(ErrorKind.Runtime,
        $"pull {repo}@{revision}: {what} from {_endpoint} broke off ({Reason(e)}); run pull again", e);

    /// <summary>A token that also fires when no byte arrives for <see cref="ReadTimeout"/>.</summary>
    private static CancellationTokenSource Deadline(CancellationToken cancellation)
    {
        var source = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        source.CancelAfter(ReadTimeout);
        return source;
    }

    private static bool IsNetworkFailure(Exception e, CancellationToken cancellation) =>
        e is HttpRequestException or HttpIOException || (e is OperationCanceledException && !cancellation.IsCancellationRequested)
        || (e is IOException && e.InnerException is System.Net.Sockets.SocketException or HttpIOException);

    private static string Reason(Exception e) => e is OperationCanceledException
        ? $"nothing arrived for {ReadTimeout.TotalSeconds:0} s"
        : (e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} {inner.Message}" : e.Message).ReplaceLineEndings(" ");

    /// <summary>The ETag huggingface_hub names a blob by: <c>X-Linked-Etag</c> (large files, before the CDN redirect), else <c>ETag</c>, without <c>W/</c> and quotes.</summary>
    private static string? Etag(HttpResponseMessage response)
    {
        string? raw = response.Headers.TryGetValues("X-Linked-Etag", out var linked) ? linked.FirstOrDefault()
            : response.Headers.ETag?.Tag;
        if (raw is null) return null;
        raw = raw.Trim();
        if (raw.StartsWith("W/", StringComparison.Ordinal)) raw = raw[2..];
        return raw.Trim('"');
    }

    /// <summary>A repository path with no empty, <c>.</c> or <c>..</c> part and no backslash: safe to join under a snapshot.</summary>
    internal static bool IsSafeRelativePath(string path) =>
        path.Length > 0 && !path.Contains('\\') && !path.Contains('\0') && !Path.IsPathRooted(path)
        && path.Split('/').All(part => part.Length > 0 && part != "." && part != "..");

    /// <summary>Makes <paramref name="link"/> a relative symbolic link to <paramref name="blob"/> (a copy where links are not allowed).</summary>
    private static void Link(string link, string blob)
    {
        CreateFolder(Path.GetDirectoryName(link)!);
        if (File.Exists(link) || new FileInfo(link).LinkTarget is not null) File.Delete(link);
        try
        {
            File.CreateSymbolicLink(link, Path.GetRelativePath(Path.GetDirectoryName(link)!, blob));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            File.Copy(blob, link, overwrite: true);
        }
    }

    private static void CreateFolder(string folder)
    {
        try { Directory.CreateDirectory(folder); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KeyEmbedException.Input($"pull: cannot create {folder} ({e.Message}); set HF_HUB_CACHE to a folder you can write");
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _http.Dispose();
        _headHttp.Dispose();
    }
}
