using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Embedding;

namespace KeyEmbed.Tests.Server;

/// <summary>
/// <c>keyembed serve</c> as a user starts it (the real model loader, the built-in model) on a loopback port; its answers
/// are compared with what <see cref="KeyEmbedModel"/> gives in-process for the same texts.
/// </summary>
public sealed class RealModelServerTests : IAsyncLifetime
{
    private readonly CancellationTokenSource _stop = new();
    private Task<int>? _exit;
    private HttpClient _client = null!;
    private KeyEmbedModel _model = null!;

    public async Task InitializeAsync()
    {
        int port;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var command = ServeCommand.Create(new CliContext(new StringWriter(), new StringWriter()), _ => null, ModelBackend.Load, _stop.Token);
        _exit = Task.Run(() => command.Parse(["--model", "minilm", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)]).Invoke());
        _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(120) };
        _model = KeyEmbedModel.Load("minilm");
        for (var i = 0; i < 1200 && !_exit.IsCompleted; i++)
        {
            try
            {
                if ((await _client.GetAsync("/health")).StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new Xunit.Sdk.XunitException($"keyembed serve never became healthy (exit: {(_exit.IsCompleted ? _exit.Result.ToString() : "running")})");
    }

    public async Task DisposeAsync()
    {
        _stop.Cancel();
        if (_exit is not null) Assert.Equal(0, await _exit.WaitAsync(TimeSpan.FromSeconds(60)));
        _client.Dispose();
        _model.Dispose();
        _stop.Dispose();
    }

    private Task<HttpResponseMessage> Post(string route, string json) =>
        _client.PostAsync(route, new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    [Fact]
    public async Task OpenAI_embeddings_are_the_facades_vectors_with_its_token_counts()
    {
        string[] texts = ["machine learning", "深度学习", "The food was delicious and the waiter was friendly."];
        var response = await Post("/v1/embeddings", JsonSerializer.Serialize(new { input = texts, model = "text-embedding-ada-002" }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();

        var expected = _model.Embed(texts);
        var data = body.GetProperty("data").EnumerateArray().ToArray();
        Assert.Equal(texts.Length, data.Length);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            var vector = data[i].GetProperty("embedding").Floats();
            Assert.Equal(384, vector.Length);
            AssertClose(expected.Vectors[i], vector, $"'{texts[i]}'");
        }
        Assert.Equal(expected.Tokens.Sum(), body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        var single = (await (await Post("/v1/embeddings", """{"input": "machine learning", "model": "m"}""")).JsonAsync())
            .GetProperty("data")[0].GetProperty("embedding").Floats();
        AssertClose(expected.Vectors[0], single, "a single string input");
    }

    [Fact]
    public async Task Embed_with_options_matches_the_facade_with_the_same_options()
    {
        var response = await Post("/embed", """{"texts": ["king", "queen of hearts"], "layers": [-2, -1], "layer_mode": "concat", "pooling": "max", "normalize": false}""");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var embeddings = (await response.JsonAsync()).GetProperty("embeddings");
        var expected = _model.Embed(["king", "queen of hearts"],
            new EmbeddingOptions { Layers = [-2, -1], LayerMode = LayerMode.Concat, Pooling = PoolingMode.Max, Normalize = false });
        for (var i = 0; i < 2; i++) AssertClose(expected.Vectors[i], embeddings[i].Floats(), $"text {i}");
        Assert.Equal(768, embeddings[0].GetArrayLength());
    }

    [Fact]
    public async Task A_long_text_is_embedded_whole_by_windows_as_the_cli_does_unless_the_request_says_otherwise()
    {
        // Longer than the built-in model's 512-token window: two windows.
        string text = string.Join(' ', Enumerable.Range(0, 700).Select(i => i % 2 == 0 ? "learning" : "machines"))
            + " and finally a banana";
        var windows = _model.Embed([text]);
        Assert.True(windows.Windows[0] > 1);
        var firstWindow = _model.Embed([text], new EmbeddingOptions { LongText = LongTextMode.Truncate });

        var whole = await (await Post("/embed", JsonSerializer.Serialize(new { texts = new[] { text } }))).JsonAsync();
        AssertClose(windows.Vectors[0], whole.GetProperty("embeddings")[0].Floats(), "default: windows");
        Assert.Equal(windows.Tokens[0], whole.GetProperty("tokens")[0].GetInt32());
        var openAi = await (await Post("/v1/embeddings", JsonSerializer.Serialize(new { input = text }))).JsonAsync();
        AssertClose(windows.Vectors[0], openAi.GetProperty("data")[0].GetProperty("embedding").Floats(), "OpenAI route: windows");

        var cut = await (await Post("/embed", JsonSerializer.Serialize(new { texts = new[] { text }, long_text = "truncate" }))).JsonAsync();
        AssertClose(firstWindow.Vectors[0], cut.GetProperty("embeddings")[0].Floats(), "long_text truncate");
        Assert.Equal(512, cut.GetProperty("tokens")[0].GetInt32());

        var refused = await (await Post("/embed", JsonSerializer.Serialize(new { texts = new[] { text }, long_text = "error" }))).ErrorAsync(422);
        Assert.Equal("long_text", refused.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Similarity_numbers_are_the_facades()
    {
        string[] texts = ["machine learning", "deep learning", "banana bread", "人工智能"];
        var response = await Post("/similarity", JsonSerializer.Serialize(new { texts, top_k = 2 }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        var expected = _model.Similarity(texts);
        var matrix = body.GetProperty("matrix");
        for (var i = 0; i < texts.Length; i++)
        {
            AssertClose(expected.Matrix[i], matrix[i].Floats(), $"matrix row {i}");
            Assert.Equal(expected.ToSet[i], body.GetProperty("to_set")[i].GetSingle(), 4);
            Assert.Equal(expected.MeanPairwise[i], body.GetProperty("mean_pairwise")[i].GetSingle(), 4);
        }
        // The real model ranks "deep learning" closest to "machine learning" and "banana bread" far from it.
        Assert.Equal(1, body.GetProperty("neighbours")[0][0].GetProperty("index").GetInt32());
        Assert.True(expected.Matrix[0][1] > expected.Matrix[0][2] + 0.2f);

        var ranked = await (await Post("/similarity", """{"query": "fruit", "candidates": ["apple", "car", "banana", "engine"], "top_k": 3}""")).JsonAsync();
        var nearest = _model.Nearest("fruit", ["apple", "car", "banana", "engine"], 3);
        var results = ranked.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(nearest.Select(n => n.Index), results.Select(r => r.GetProperty("index").GetInt32()));
        for (var i = 0; i < nearest.Count; i++) Assert.Equal(nearest[i].Similarity, results[i].GetProperty("score").GetSingle(), 4);
    }

    [Fact]
    public async Task A_text_over_the_window_is_truncated_to_it_when_the_request_says_truncate()
    {
        var text = string.Concat(Enumerable.Repeat("The cat sat on the mat and looked at the birds. ", 60));
        Assert.True(_model.Tokenizer.Encode(text, maxLength: int.MaxValue).Length > 600);
        var response = await Post("/embed", JsonSerializer.Serialize(new { texts = new[] { text }, long_text = "truncate" }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal(512, body.GetProperty("tokens")[0].GetInt32());

        // By hand: the first 512 tokens' last-layer vectors, mean-pooled and normalized.
        var tokens = _model.EmbedTokens(text, new EmbeddingOptions { Normalize = false }).Tokens;
        Assert.Equal(512, tokens.Count);
        var mean = Enumerable.Range(0, 384).Select(d => tokens.Average(t => (double)t.Vector[d])).ToArray();
        var norm = Math.Sqrt(mean.Sum(x => x * x));
        AssertClose([.. mean.Select(x => (float)(x / norm))], body.GetProperty("embeddings")[0].Floats(), "truncated text");

        var refused = await Post("/embed", JsonSerializer.Serialize(new { texts = new[] { text }, long_text = "error" }));
        Assert.Equal(422, (int)refused.StatusCode);
    }

    [Fact]
    public async Task Info_describes_the_built_in_model()
    {
        var model = (await (await _client.GetAsync("/info")).JsonAsync()).GetProperty("model");
        Assert.Equal("bert", model.GetProperty("architecture").GetString());
        Assert.Equal(384, model.GetProperty("dimensions").GetInt32());
        Assert.Equal(6, model.GetProperty("layers").GetInt32());
        Assert.Equal(512, model.GetProperty("max_tokens").GetInt32());
        var defaults = model.GetProperty("defaults");
        Assert.Equal([-1], defaults.GetProperty("layers").EnumerateArray().Select(e => e.GetInt32()));
        Assert.True(defaults.GetProperty("normalize").GetBoolean());
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        var difference = expected.Zip(actual, (a, b) => Math.Abs((double)a - b)).Max();
        Assert.True(difference <= 1e-5, $"{what}: largest difference {difference:G3}");
    }
}
