namespace KeyEmbed.Server;

/// <summary>Where the service listens, its limits and its batching. Every limit is enforced with a JSON error naming it.</summary>
public sealed record ServerOptions
{
    /// <summary>Address to bind; the loopback address by default so nothing is exposed unless asked.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 picks a free one (see <see cref="KeyEmbedServer.ListeningUri"/>).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>When set, every route except <c>/health</c> and the page's static files needs <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>Most inputs (texts, candidates) one request may carry.</summary>
    public int MaxInputs { get; init; } = 256;

    /// <summary>Most characters one input may have.</summary>
    public int MaxInputChars { get; init; } = 20_000;

    /// <summary>Largest request body in bytes; larger bodies get 413.</summary>
    public long MaxBodyBytes { get; init; } = 2 * 1024 * 1024;

    /// <summary>What happens to a text longer than the model's window when a request does not say (<c>long_text</c>): the
    /// whole text by windows, as the CLI and the library do by default.</summary>
    public Embedding.LongTextMode LongText { get; init; } = Embedding.LongTextMode.Windows;

    /// <summary>Token budget of one model batch: requests are merged until their tokens would exceed it.</summary>
    public int MaxBatchTokens { get; init; } = 8192;

    /// <summary>How long the batcher waits for more requests after the first one arrives.</summary>
    public TimeSpan MaxBatchWait { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Most requests waiting for the model; beyond it the service answers 503 with <c>Retry-After</c>.</summary>
    public int MaxQueuedRequests { get; init; } = 1024;

    /// <summary>Seconds suggested in <c>Retry-After</c> when the queue is full or the model is still loading.</summary>
    public int RetryAfterSeconds { get; init; } = 1;

    /// <summary>
    /// The vector store <c>POST /v1/index</c> and <c>POST /v1/search</c> use (and <c>/health/ready</c> pings); null = none.
    /// The service does not dispose it.
    /// </summary>
    public KeyEmbed.Stores.IVectorStore? Store { get; init; }

    /// <summary>
    /// When set, the service handles SIGTERM itself: <c>/health/ready</c> turns 503 at once and the service keeps serving
    /// this long before it stops (so a balancer takes it out first). Null keeps the host's default signal handling.
    /// </summary>
    public TimeSpan? DrainDelay { get; init; }

    /// <summary>
    /// Most open connections (Kestrel's <c>MaxConcurrentConnections</c>); beyond it new connections are refused at once,
    /// so idle or slow clients cannot exhaust the service's sockets and threads. Default 1000.
    /// </summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>
    /// How long a client may take to send a request's headers (Kestrel's <c>RequestHeadersTimeout</c>); a client that
    /// trickles its headers or connects and says nothing is disconnected after it. Default 10 s.
    /// </summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Slowest accepted request body, in bytes per second averaged after a grace period (Kestrel's
    /// <c>MinRequestBodyDataRate</c>); a client trickling its body slower gets 408 and is disconnected. Default 240 B/s after 5 s.
    /// </summary>
    public double MinRequestBodyBytesPerSecond { get; init; } = 240;

    /// <summary>Grace period before <see cref="MinRequestBodyBytesPerSecond"/> applies (over 1 s). Default 5 s.</summary>
    public TimeSpan MinRequestBodyGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How long an idle keep-alive connection stays open (Kestrel's <c>KeepAliveTimeout</c>). Default 60 s.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Checks the values; a bad one is a <see cref="KeyEmbedException"/> naming the option.</summary>
    public void Validate()
    {
        static void Positive(long value, string option)
        {
            if (value <= 0) throw new KeyEmbedException(ErrorKind.InvalidInput, $"{option} must be positive (got {value}).");
        }
        if (Port is < 0 or > 65535) throw new KeyEmbedException(ErrorKind.InvalidInput, $"--port must be between 0 and 65535 (got {Port}).");
        if (string.IsNullOrWhiteSpace(Host)) throw new KeyEmbedException(ErrorKind.InvalidInput, "--host must not be empty.");
        if (ApiKey is { Length: 0 }) throw new KeyEmbedException(ErrorKind.InvalidInput, "--api-key must not be empty; leave it out to run without a key.");
        Positive(MaxInputs, "--max-inputs");
        Positive(MaxInputChars, "--max-input-chars");
        Positive(MaxBodyBytes, "--max-body-bytes");
        Positive(MaxBatchTokens, "--max-batch-tokens");
        Positive(MaxQueuedRequests, "--max-queue");
        Positive(RetryAfterSeconds, "retry-after seconds");
        if (DrainDelay < TimeSpan.Zero) throw new KeyEmbedException(ErrorKind.InvalidInput, $"--drain-seconds must not be negative (got {DrainDelay.Value.TotalSeconds}).");
        Positive(MaxConnections, "max connections");
        Positive(RequestHeadersTimeout.Ticks, "request headers timeout");
        Positive(KeepAliveTimeout.Ticks, "keep-alive timeout");
        if (MinRequestBodyBytesPerSecond <= 0 || MinRequestBodyGrace <= TimeSpan.FromSeconds(1))
            throw new KeyEmbedException(ErrorKind.InvalidInput, "the minimum request body rate must be positive and its grace period over a second (Kestrel's rule).");
        if (MaxBatchWait < TimeSpan.Zero) throw new KeyEmbedException(ErrorKind.InvalidInput, $"--max-wait-ms must not be negative (got {MaxBatchWait.TotalMilliseconds}).");
    }
}
