using System.Net;
using System.Text;
using KeyEmbed.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Fuzz;

/// <summary>
/// The <c>http</c> target: the real service (Kestrel on a loopback port, the tiny random BERT from
/// <c>../shared/golden/bert-tiny-random</c>) started once per process; each input is one POST, its first byte choosing
/// the route and the rest the body. The service has a folder store attached (a temporary folder), so the store routes
/// are fuzzed too; the store is made anew every <see cref="FreshStoreEvery"/> inputs so it does not grow without bound
/// over a campaign. Every answer must be one the service documents for a client's request: 2xx, or
/// 400 / 413 / 415 / 422 with a JSON error body. A 5xx (or any other status) is a crash.
/// </summary>
internal static class HttpBodies
{
    internal static readonly string[] Routes = ["/v1/embeddings", "/embed", "/embed/tokens", "/similarity", "/keywords", "/tokenize", "/v1/index", "/v1/search"];

    private const int FreshStoreEvery = 20_000;

    private static readonly HashSet<HttpStatusCode> Allowed =
    [
        HttpStatusCode.OK, HttpStatusCode.BadRequest, HttpStatusCode.RequestEntityTooLarge,
        HttpStatusCode.UnsupportedMediaType, HttpStatusCode.UnprocessableEntity,
    ];

    private static HttpClient? _client;
    private static WebApplication? _app;
    private static KeyEmbed.Stores.IVectorStore? _store;
    private static string? _storeFolder;
    private static IEmbeddingBackend? _backend;
    private static int _inputs;

    private static HttpClient Client()
    {
        if (_client is not null && _inputs++ % FreshStoreEvery != 0) return _client;
        Stop();
        _client = Start();
        _inputs = 1;
        return _client;
    }

    private static void Stop()
    {
        _client?.Dispose();
        _app?.StopAsync().GetAwaiter().GetResult();
        (_app as IDisposable)?.Dispose();
        _store?.Dispose();
        if (_storeFolder is not null) try { Directory.Delete(_storeFolder, recursive: true); } catch (IOException) { }
    }

    private static HttpClient Start()
    {
        // Each input blocks on its HTTP call (sync over async); when other work fills the thread pool (the test suite
        // replays this beside other tests), Kestrel's handlers would wait for the pool to add threads, about one a
        // second. Enough threads up front keep an input's time its own.
        ThreadPool.GetMinThreads(out int workers, out int io);
        ThreadPool.SetMinThreads(Math.Max(workers, 32), io);
        string model = SharedFolder("golden/bert-tiny-random");
        _backend ??= new KeyEmbedModelBackend(KeyEmbedModel.Load(model, new KeyEmbedModelOptions { UseGraphCache = false, Threads = 1 }));
        _storeFolder = Path.Combine(Path.GetTempPath(), $"keyembed-fuzz-store-{Environment.ProcessId}");
        if (Directory.Exists(_storeFolder)) Directory.Delete(_storeFolder, recursive: true);
        _store = KeyEmbed.Stores.VectorStores.Open(_storeFolder, KeyEmbed.Stores.StoreAccess.Write);
        _app = KeyEmbedServer.Build(_backend, new ServerOptions { Host = "127.0.0.1", Port = 0, MaxBodyBytes = 64 * 1024, MaxInputs = 32, Store = _store },
            logging => logging.ClearProviders());
        _app.StartAsync().GetAwaiter().GetResult();
        return new HttpClient { BaseAddress = _app.ListeningUri(), Timeout = TimeSpan.FromSeconds(30) };
    }

    public static void Run(byte[] input)
    {
        string route = Routes[input.Length == 0 ? 0 : input[0] % Routes.Length];
        using var content = new ByteArrayContent(input.Length == 0 ? [] : input[1..]);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = Client().PostAsync(route, content).GetAwaiter().GetResult();
        string body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
        if (!Allowed.Contains(response.StatusCode))
            throw new InvalidOperationException($"POST {route} answered {(int)response.StatusCode}: {body}");
        if (response.StatusCode != HttpStatusCode.OK && !body.Contains("\"error\"", StringComparison.Ordinal))
            throw new InvalidOperationException($"POST {route} answered {(int)response.StatusCode} without a JSON error body: {body}");
    }

    internal static string SharedFolder(string relative)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", relative), Path.Combine(dir.FullName, "..", "shared", relative) })
                    if (Directory.Exists(candidate)) return Path.GetFullPath(candidate);
        throw new DirectoryNotFoundException($"../shared/{relative} not found above {Environment.CurrentDirectory}");
    }

    /// <summary>Small valid bodies per route (the seeds), each prefixed with its route byte.</summary>
    internal static IEnumerable<(string Name, byte[] Bytes)> Seeds()
    {
        string[] bodies =
        [
            """{"input": ["a river of stone", "green light"], "model": "x", "encoding_format": "float", "dimensions": 8}""",
            """{"texts": ["a river of stone"], "layers": [-1], "layer_mode": "sum", "pooling": "mean", "normalize": true, "long_text": "windows"}""",
            """{"text": "a river of stone", "exclude_special_tokens": true}""",
            """{"texts": ["river", "stone"], "query": "water", "candidates": ["river", "light"], "top_k": 2}""",
            """{"document": "the river runs past the stone mill by the green light", "top_k": 3, "diversity": 0.5, "min_ngram": 1, "max_ngram": 2, "remove_stop_words": true}""",
            """{"texts": ["a river of stone", "unaffable"], "text": "x"}""",
            """{"items": [{"id": "r1", "text": "a river of stone", "metadata": {"lang": "en", "tags": ["x", 1]}}, {"text": "green light"}]}""",
            """{"queries": ["river", "light"], "top": 3, "exact": false}""",
        ];
        for (int i = 0; i < Routes.Length; i++)
            yield return ($"route{i}", [(byte)i, .. Encoding.UTF8.GetBytes(bodies[i])]);
    }
}
