using Prometheus;

namespace KeyEmbed.Server.Metrics;

/// <summary>
/// The service's Prometheus metrics, in a registry of its own (no static state: two servers in one process,
/// as in the tests, keep separate counts). Exposed as text by <c>GET /metrics</c>.
/// </summary>
internal sealed class ServerMetrics
{
    public ServerMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("keyembed_http_requests_total", "HTTP requests by route and status code.",
            new CounterConfiguration { LabelNames = ["route", "status"] });
        RequestSeconds = factory.CreateHistogram("keyembed_http_request_duration_seconds", "HTTP request latency by route.",
            new HistogramConfiguration { LabelNames = ["route"], Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        BatchSize = factory.CreateHistogram("keyembed_batch_size", "Texts per model batch.",
            new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] });
        BatchRequests = factory.CreateHistogram("keyembed_batch_requests", "Requests merged into one model batch.",
            new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64, 128] });
        BatchSeconds = factory.CreateHistogram("keyembed_batch_duration_seconds", "Time the model spent on one batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        QueueDepth = factory.CreateGauge("keyembed_queue_depth", "Requests waiting for the model.");
        Tokens = factory.CreateCounter("keyembed_tokens_total", "Tokens embedded (rate() of it is tokens per second).");
        Rejected = factory.CreateCounter("keyembed_rejected_total", "Requests refused because the queue was full.");
        UnknownTokenTexts = factory.CreateCounter("keyembed_unknown_token_texts_total",
            "Texts whose tokens were mostly unknown to the model's vocabulary (at least UnknownTokens.WarningShare); their vectors say little.");
        // Memory, read at each scrape (the soak's flat-memory check reads these; docs/reliability.md).
        var heap = factory.CreateGauge("keyembed_gc_heap_bytes", "Bytes in the managed (GC) heap, as GC.GetTotalMemory reports them.");
        var resident = factory.CreateGauge("keyembed_process_resident_bytes", "Resident memory of the service process (working set).");
        Registry.AddBeforeCollectCallback(() =>
        {
            heap.Set(GC.GetTotalMemory(forceFullCollection: false));
            resident.Set(Environment.WorkingSet);
        });
    }

    public CollectorRegistry Registry { get; }
    public Counter Requests { get; }
    public Histogram RequestSeconds { get; }
    public Histogram BatchSize { get; }
    public Histogram BatchRequests { get; }
    public Histogram BatchSeconds { get; }
    public Gauge QueueDepth { get; }
    public Counter Tokens { get; }
    public Counter Rejected { get; }
    public Counter UnknownTokenTexts { get; }

    public Task WriteTextAsync(Stream destination, CancellationToken cancellation) =>
        Registry.CollectAndExportAsTextAsync(destination, cancellation);
}
