using System.CommandLine;
using KeyEmbed.Server;
using KeyEmbed.Stores;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Cli.Commands;

/// <summary><c>keyembed serve</c>: the HTTP service and the page at <c>/</c> over one loaded model.</summary>
internal static class ServeCommand
{
    private static readonly ServerOptions Defaults = new();

    /// <summary>The command's options, made per command tree (an option belongs to one command).</summary>
    private sealed class Options
    {
        public Option<string> Model { get; } = new("--model") { Description = "Model to serve: a built-in name, a folder or a file.", DefaultValueFactory = _ => "minilm" };
        public Option<string> Host { get; } = new("--host") { Description = "Address to listen on.", DefaultValueFactory = _ => Defaults.Host };
        public Option<int> Port { get; } = new("--port") { Description = "TCP port (0 picks a free one).", DefaultValueFactory = _ => Defaults.Port };
        public Option<string?> ApiKey { get; } = new("--api-key") { Description = $"Require 'Authorization: Bearer <key>' on every route but /health and the page (default: ${KeyEmbedServer.ApiKeyVariable})." };
        public Option<int> MaxBatchTokens { get; } = new("--max-batch-tokens") { Description = "Token budget of one model batch.", DefaultValueFactory = _ => Defaults.MaxBatchTokens };
        public Option<double> MaxWaitMs { get; } = new("--max-wait-ms") { Description = "Longest wait for more requests before a batch runs.", DefaultValueFactory = _ => Defaults.MaxBatchWait.TotalMilliseconds };
        public Option<int> MaxQueue { get; } = new("--max-queue") { Description = "Most requests waiting for the model; beyond it: 503 + Retry-After.", DefaultValueFactory = _ => Defaults.MaxQueuedRequests };
        public Option<int> MaxInputs { get; } = new("--max-inputs") { Description = "Most texts per request.", DefaultValueFactory = _ => Defaults.MaxInputs };
        public Option<int> MaxInputChars { get; } = new("--max-input-chars") { Description = "Most characters per text.", DefaultValueFactory = _ => Defaults.MaxInputChars };
        public Option<string> Precision { get; } = new("--precision") { Description = "Arithmetic of the encoder's linear layers: float32 (default) or int8 (faster, cosine ≈ 0.99 to float32; BERT models).", DefaultValueFactory = _ => "float32" };
        public Option<int> Threads { get; } = new("--threads") { Description = "ONNX Runtime threads (0 = all cores).", DefaultValueFactory = _ => 0 };
        public Option<int> CacheMegabytes { get; } = new("--cache-mb") { Description = "Memory for recently computed embeddings, keyed by text and options (0 turns the cache off).", DefaultValueFactory = _ => 32 };
        public Option<long> MaxBodyBytes { get; } = new("--max-body-bytes") { Description = "Largest request body (413 beyond).", DefaultValueFactory = _ => Defaults.MaxBodyBytes };

        public Option<string?> Store { get; } = new("--store") { Description = "A vector store for POST /v1/index and /v1/search and the page's search box: a folder, or postgres://user[:password]@host:port/database[?table=NAME] (shared by replicas; docs/stores.md)." };
        public Option<int?> SearchBreadth { get; } = StoreOptions.SearchBreadth();
        public Option<double> DrainSeconds { get; } = new("--drain-seconds") { Description = "On SIGTERM, answer 503 on /health/ready and keep serving this long before stopping, so a balancer takes the replica out first.", DefaultValueFactory = _ => 5 };

        public Option<string> LongText { get; } = new("--long-text") { Description = "A text longer than the model's window, when a request does not say (its long_text field): windows (default: the whole text, as the CLI), truncate (the first window) or error (422).", DefaultValueFactory = _ => "windows" };
        public IEnumerable<Option> All => [Model, Host, Port, ApiKey, MaxBatchTokens, MaxWaitMs, MaxQueue, MaxInputs, MaxInputChars, MaxBodyBytes, LongText, Precision, Threads, CacheMegabytes, Store, SearchBreadth, DrainSeconds];

        /// <summary>How the model is loaded: compute precision, threads, embedding cache.</summary>
        public KeyEmbedModelOptions ReadModelOptions(ParseResult parsed)
        {
            var precision = EmbeddingOptionSet.ParseComputePrecision(parsed.GetValue(Precision)!);
            int threads = parsed.GetValue(Threads);
            if (threads < 0) throw KeyEmbedException.Input($"--threads must be 0 (all cores) or more (got {threads})");
            int cache = parsed.GetValue(CacheMegabytes);
            if (cache < 0) throw KeyEmbedException.Input($"--cache-mb must be 0 (off) or more (got {cache})");
            return new KeyEmbedModelOptions { ComputePrecision = precision, Threads = threads, CacheBytes = (long)cache << 20 };
        }

        /// <summary>The server options from the command line, the API key falling back to the environment.</summary>
        public ServerOptions Read(ParseResult parsed, Func<string, string?> environment)
        {
            var key = parsed.GetValue(ApiKey);
            if (key is null && environment(KeyEmbedServer.ApiKeyVariable) is { Length: > 0 } fromEnvironment) key = fromEnvironment;
            var options = new ServerOptions
            {
                Host = parsed.GetValue(Host)!,
                Port = parsed.GetValue(Port),
                ApiKey = key,
                MaxBatchTokens = parsed.GetValue(MaxBatchTokens),
                MaxBatchWait = TimeSpan.FromMilliseconds(parsed.GetValue(MaxWaitMs)),
                MaxQueuedRequests = parsed.GetValue(MaxQueue),
                MaxInputs = parsed.GetValue(MaxInputs),
                MaxInputChars = parsed.GetValue(MaxInputChars),
                MaxBodyBytes = parsed.GetValue(MaxBodyBytes),
                DrainDelay = TimeSpan.FromSeconds(parsed.GetValue(DrainSeconds)),
                LongText = ParseLongText(parsed.GetValue(LongText)!),
            };
            options.Validate();
            return options;
        }
    }

    private static Embedding.LongTextMode ParseLongText(string text)
    {
        try { return Embedding.EmbeddingOptions.ParseLongText(text); }
        catch (KeyEmbedException) { throw KeyEmbedException.Input($"--long-text: '{text}' is not one of {Embedding.EmbeddingOptions.LongTextNames}"); }
    }

    public static Command Create(CliContext context) => Create(context, Environment.GetEnvironmentVariable, ModelBackend.Load, CancellationToken.None);

    /// <summary>The command with its environment, model loader and stop signal given (tests pass their own).</summary>
    internal static Command Create(CliContext context, Func<string, string?> environment, Func<string, KeyEmbedModelOptions, IEmbeddingBackend> load, CancellationToken stop)
    {
        var options = new Options();
        var command = new Command("serve", "Run the HTTP service (OpenAI-compatible /v1/embeddings, /embed, /similarity, /keywords...) and the similarity page at /.");
        foreach (var option in options.All) command.Options.Add(option);
        command.SetAction(parsed => CliApp.Guard(context, () =>
        {
            var serverOptions = options.Read(parsed, environment);
            var model = parsed.GetValue(options.Model)!;
            var modelOptions = options.ReadModelOptions(parsed);
            // The store opens first (an unreachable database stops the command at once); replicas share a PostgreSQL one.
            using var store = parsed.GetValue(options.Store) is { } location ? StoreOptions.Open(location, StoreAccess.Write, parsed.GetValue(options.SearchBreadth)) : null;
            serverOptions = serverOptions with { Store = store };
            var loading = Task.Run(() => CheckStore(load(model, modelOptions), store));
            return RunAsync(serverOptions, loading, context, stop).GetAwaiter().GetResult();
        }));
        return command;
    }

    // A store made by another model or options is refused before the service reports ready (naming both profiles).
    private static IEmbeddingBackend CheckStore(IEmbeddingBackend backend, IVectorStore? store)
    {
        if (store?.Profile is { } recorded && backend.ProfileFor(recorded.ToOptions()) is { } made)
        {
            try { recorded.Check(made, store.Location, "service"); }
            catch { (backend as IDisposable)?.Dispose(); throw; }
        }
        return backend;
    }

    /// <summary>
    /// Listens at once (<c>/health</c> answers 503 while the model loads), stops with an error if loading fails,
    /// and otherwise serves until Ctrl+C / SIGTERM or <paramref name="stop"/>, finishing accepted requests.
    /// </summary>
    internal static async Task<int> RunAsync(ServerOptions options, Task<IEmbeddingBackend> loading, CliContext context, CancellationToken stop)
    {
        // A failed start (a busy port) is our one `error:` line below; the host would also log it with a stack trace.
        // Its Critical entries (a background service stopping the host) still show.
        await using var app = KeyEmbedServer.Build(loading, options,
            logging => logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical));
        try
        {
            await app.StartAsync(stop);
        }
        catch (IOException e)
        {
            // The model is still loading on another thread, inside ONNX Runtime: the process must not exit under it
            // (it crashed with SIGSEGV, exit 139, when it did). Let the load end, then let the model go.
            await DiscardAsync(loading);
            // Kestrel's AddressInUseException (and the like) is an IOException: one line, not its stack trace.
            throw KeyEmbedException.Input($"cannot listen on {options.Host}:{options.Port}: {e.GetBaseException().Message} (another program holds the port? pick another --port, or 0 for a free one)");
        }
        context.Out.WriteLine($"KeyEmbed listening on {app.ListeningUri()} (page at /, OpenAPI at /openapi.json); loading the model...");
        try
        {
            var backend = await loading.WaitAsync(stop);
            context.Out.WriteLine($"Model {backend.Model.Name} ready ({backend.Model.Architecture}, {backend.Model.Layers} layers, {backend.Model.Dimensions} dimensions).");
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped while the model loads: the same wait as above before the process may exit.
            await DiscardAsync(loading);
        }
        catch (KeyEmbedException)
        {
            await app.StopAsync(CancellationToken.None);
            throw;
        }
        await app.WaitForShutdownAsync(stop);
        context.Out.WriteLine("KeyEmbed stopped.");
        return 0;
    }

    // Waits for a model load the service will not use and disposes what it made; its failure no longer matters.
    private static async Task DiscardAsync(Task<IEmbeddingBackend> loading)
    {
        try { ((await loading) as IDisposable)?.Dispose(); }
        catch (Exception e) when (e is KeyEmbedException or OperationCanceledException) { }
    }
}
