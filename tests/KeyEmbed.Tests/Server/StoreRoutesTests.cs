using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KeyEmbed.Server;
using KeyEmbed.Stores;
using KeyEmbed.Tests.Stores;
using Microsoft.Playwright;

namespace KeyEmbed.Tests.Server;

/// <summary><c>POST /v1/index</c>, <c>POST /v1/search</c>, <c>GET /v1/store</c>, <c>GET /health/ready</c> and SIGTERM draining.</summary>
public sealed class StoreRoutesTests
{
    private static readonly string TinyModel = SharedData.Golden("bert-tiny-random");

    private static Task<RunningServer> StartAsync(IVectorStore? store, string? key = null) =>
        RunningServer.StartAsync(KeyEmbedModelBackend.Load(TinyModel), new ServerOptions { Store = store, ApiKey = key });

    [Fact]
    public async Task Index_then_search_over_http_follows_the_cli_json_contract_and_a_repeat_adds_nothing()
    {
        using var dir = new TempDir();
        using var store = VectorStores.Open(dir.File("s"), StoreAccess.Write);
        await using var server = await StartAsync(store);

        var first = await (await server.PostJsonAsync("/v1/index",
            """{"items": [{"id": "a", "text": "solar panels", "metadata": {"lang": "en"}}, {"text": "wind turbines"}, {"id": "c", "text": "coal mines"}]}""")).JsonAsync();
        Assert.Equal(3, first.GetProperty("added").GetInt32());
        var again = await (await server.PostJsonAsync("/v1/index", """{"texts": ["wind turbines"]}""")).JsonAsync();
        Assert.Equal(0, again.GetProperty("added").GetInt32());
        Assert.Equal(1, again.GetProperty("already_stored").GetInt32());
        Assert.Equal(3, again.GetProperty("count").GetInt64());

        var response = await server.PostJsonAsync("/v1/search", """{"queries": ["coal mines", "solar panels"], "top": 3}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.JsonAsync();
        Assert.Equal(["coal mines", "solar panels"], answer.GetProperty("queries").EnumerateArray().Select(q => q.GetString()!));
        var results = answer.GetProperty("results").EnumerateArray().ToList();
        // Every stored text comes back (the tiny random model may give several texts the same vector, so ranks can tie).
        Assert.All(results, r => Assert.Equal(3, r.GetArrayLength()));
        Assert.Contains(results[0].EnumerateArray(), h => h.GetProperty("id").GetString() == "c" && h.GetProperty("score").GetSingle() > 0.9999f);
        var solar = results[1].EnumerateArray().Single(h => h.GetProperty("id").GetString() == "a");
        Assert.Equal("en", solar.GetProperty("metadata").GetProperty("lang").GetString());

        // The same vectors as keyembed index makes with the store's options.
        using var model = KeyEmbedModel.Load(TinyModel);
        var expected = model.Embed(["wind turbines"], store.Profile!.ToOptions()).Vectors[0];
        Assert.Equal(1f, System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(expected, store.Vector(VectorStores.ContentId("wind turbines"))!), 4);

        var info = await (await server.Client.GetAsync("/v1/store")).JsonAsync();
        Assert.Equal(3, info.GetProperty("count").GetInt64());
        Assert.False(info.TryGetProperty("search_tuning", out _));
        var tuning = store.TuneSearch(0.9);
        info = await (await server.Client.GetAsync("/v1/store")).JsonAsync();
        Assert.Equal(tuning.Breadth, info.GetProperty("search_tuning").GetProperty("breadth").GetInt32());
        Assert.Equal(3, info.GetProperty("search_tuning").GetProperty("rows").GetInt64());
        Assert.False(info.GetProperty("search_tuning").GetProperty("queries_given").GetBoolean());
        Assert.Equal(!tuning.Reached, info.GetProperty("searches_exactly").GetBoolean());
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/ready")).StatusCode);
    }

    [Theory]
    [InlineData("""{"k\uD800": "v"}""")]
    [InlineData("""{"k": "\uDC00"}""")]
    [InlineData("""{"k": [1, {"deep": "x\uD800y"}]}""")]
    public async Task Metadata_that_is_not_text_is_refused_so_later_searches_still_answer(string metadata)
    {
        using var dir = new TempDir();
        using var store = VectorStores.Open(dir.File("s"), StoreAccess.Write);
        await using var server = await StartAsync(store);
        var refused = await (await server.PostJsonAsync("/v1/index", $$"""{"items": [{"text": "solar panels", "metadata": {{metadata}}}]}""")).ErrorAsync(422);
        Assert.Contains("[0].metadata holds", refused.GetProperty("message").GetString());
        Assert.Contains("not valid text", refused.GetProperty("message").GetString());
        Assert.Equal(0, store.Count());
        // Before, the row was stored and every search finding it answered 500.
        await server.PostJsonAsync("/v1/index", """{"items": [{"text": "wind turbines", "metadata": {"k": "v"}}]}""");
        var found = await server.PostJsonAsync("/v1/search", """{"query": "solar panels", "top": 3}""");
        Assert.Equal(HttpStatusCode.OK, found.StatusCode);
    }

    [Fact]
    public async Task Without_a_store_the_store_routes_answer_404_and_readiness_needs_only_the_model()
    {
        await using var server = await StartAsync(null);
        (await (await server.PostJsonAsync("/v1/search", """{"query": "x"}""")).ErrorAsync(404)).GetProperty("message").GetString()!.Contains("--store");
        await (await server.PostJsonAsync("/v1/index", """{"texts": ["x"]}""")).ErrorAsync(404);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Readiness_is_503_while_the_store_is_unreachable_and_needs_no_api_key()
    {
        using var dir = new TempDir();
        using var inner = VectorStores.Open(dir.File("s"), StoreAccess.Write);
        var store = new SwitchableStore(inner);
        await using var server = await StartAsync(store, key: "k");
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/ready")).StatusCode);
        store.Down = true;
        var down = await server.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Contains("unreachable", (await down.JsonAsync()).GetProperty("message").GetString());
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health")).StatusCode);
        store.Down = false;
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/health/ready")).StatusCode);
    }

    [Fact]
    public async Task Sigterm_turns_readiness_to_503_while_the_service_still_answers_then_it_exits_0()
    {
        int port = FreePort();
        using var process = CliProcess.Start("serve", "--model", TinyModel, "--port", port.ToString(), "--drain-seconds", "3");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await WaitAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, process);

        var signalled = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) await kill.WaitForExitAsync();
        await WaitAsync(async () => (await client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable, process);
        Assert.True(signalled.Elapsed < TimeSpan.FromSeconds(2.5), $"readiness turned 503 only after {signalled.Elapsed}");
        // Still serving during the drain: the balancer's in-flight requests succeed.
        var embedded = await client.PostAsync("/embed", new StringContent("""{"texts": ["still here"]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, embedded.StatusCode);

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(cancel.Token);
        Assert.True(process.ExitCode == 0, await error);
        Assert.True(signalled.Elapsed >= TimeSpan.FromSeconds(2.5), $"stopped after {signalled.Elapsed}, before the 3 s drain");
        Assert.Contains("stopped", await output);
    }

    [Fact]
    [Trait("Resource", "chromium")]
    public async Task Page_shows_a_search_box_when_a_store_is_attached_and_lists_the_nearest_texts()
    {
        string chromium = Environment.GetEnvironmentVariable("KEYEMBED_CHROMIUM") ?? "/usr/bin/chromium";
        if (!File.Exists(chromium))
            Assert.Fail($"Chromium is not installed at {chromium}: run `apt-get install -y chromium` (.ci/run does). This browser test must not be skipped.");
        using var dir = new TempDir();
        using var store = VectorStores.Open(dir.File("s"), StoreAccess.Write);
        await using var server = await StartAsync(store);
        // Words of the tiny model's vocabulary: other words are all [UNK] to it, and equal vectors would tie.
        Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/v1/index", """{"texts": ["deep learn net", "small fast model", "big text layer"]}""")).StatusCode);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = chromium,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
        });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.Address.ToString());
        await page.WaitForSelectorAsync("#store-search:not([hidden])");
        Assert.Contains("3 texts", await page.TextContentAsync("#store-line"));
        await page.FillAsync("#store-query", "small fast model");
        await page.FillAsync("#store-top", "2");
        await page.ClickAsync("#store-go");
        await page.WaitForSelectorAsync("#store-results tr");
        var rows = await page.EvalOnSelectorAllAsync<string[]>("#store-results tr", "rows => rows.map(r => r.cells[2].textContent)");
        Assert.Equal(2, rows.Length);
        Assert.Contains("small fast model", rows);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, Process process)
    {
        for (int i = 0; i < 600; i++)
        {
            Assert.False(process.HasExited, "keyembed serve exited early");
            try { if (await condition()) return; }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException("condition not met within 30 s");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>A store whose server can be "taken down": every call fails as an unreachable database does.</summary>
    private sealed class SwitchableStore(IVectorStore inner) : IVectorStore
    {
        public bool Down { get; set; }
        private T Call<T>(Func<T> call) => Down ? throw KeyEmbedException_Unreachable() : call();
        private static KeyEmbedException KeyEmbedException_Unreachable() => new(ErrorKind.InvalidInput, "cannot reach PostgreSQL at 10.0.0.1:5432 (test)");
        public string Location => inner.Location;
        public StoreProfile? Profile => inner.Profile;
        public void Claim(StoreProfile profile, string action) => Call(() => { inner.Claim(profile, action); return 0; });
        public long Count() => Call(inner.Count);
        public IReadOnlySet<string> Existing(IReadOnlyCollection<string> ids) => Call(() => inner.Existing(ids));
        public int Add(IReadOnlyList<StoreItem> items, IReadOnlyList<float[]> vectors) => Call(() => inner.Add(items, vectors));
        public IReadOnlyList<StoreHit> Search(float[] query, int top, bool exact = false) => Call(() => inner.Search(query, top, exact));
        public float[]? Vector(string id) => Call(() => inner.Vector(id));
        public void Ping() => Call(() => { inner.Ping(); return 0; });
        public SearchTuning? Tuning => inner.Tuning;
        public bool SearchesExactly => inner.SearchesExactly;
        public SearchTuning TuneSearch(double targetRecall, IProgress<SearchTuningStep>? progress, IReadOnlyList<float[]>? queries) => Call(() => inner.TuneSearch(targetRecall, progress, queries));
        public void Dispose() { }
    }
}
