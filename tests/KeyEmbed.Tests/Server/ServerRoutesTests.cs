using KeyEmbed.Embedding;
using System.Net;
using System.Text;
using System.Text.Json;
using KeyEmbed.Server;
using KeyEmbed.Similarity;

namespace KeyEmbed.Tests.Server;

public sealed class ServerRoutesTests : IAsyncLifetime
{
    private readonly FakeBackend _backend = new();
    private RunningServer _server = null!;

    public async Task InitializeAsync() =>
        _server = await RunningServer.StartAsync(_backend, new ServerOptions { MaxInputs = 8, MaxInputChars = 200, MaxBodyBytes = 4096 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task OpenAI_reference_request_returns_a_list_of_embeddings_with_usage()
    {
        const string text = "The food was delicious and the waiter...";
        var response = await _server.PostJsonAsync("/v1/embeddings",
            """{"input": "The food was delicious and the waiter...", "model": "text-embedding-ada-002", "encoding_format": "float"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal("list", body.GetProperty("object").GetString());
        Assert.Equal(_backend.Model.Name, body.GetProperty("model").GetString());
        var item = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        Assert.Equal(0, item.GetProperty("index").GetInt32());
        Assert.Equal(_backend.Embed(text, EmbeddingOptions.Default), item.GetProperty("embedding").Floats());
        var tokens = _backend.CountTokens(text);
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(tokens, body.GetProperty("usage").GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task Chinese_text_and_apostrophes_come_back_as_written_not_as_unicode_escapes()
    {
        var response = await _server.PostJsonAsync("/similarity", """{"texts": ["机器学习", "it's deep"]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string raw = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"机器学习\"", raw);
        Assert.Contains("\"it's deep\"", raw);
        Assert.DoesNotContain("\\u", raw);
    }

    [Fact]
    public async Task OpenAI_base64_encoding_is_little_endian_float32_of_the_same_vectors_in_input_order()
    {
        var response = await _server.PostJsonAsync("/v1/embeddings",
            """{"input": ["red apple", "green tea", "blue sky"], "model": "any", "encoding_format": "base64", "user": "someone"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var data = (await response.JsonAsync()).GetProperty("data").EnumerateArray().ToArray();
        string[] texts = ["red apple", "green tea", "blue sky"];
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(i, data[i].GetProperty("index").GetInt32());
            var bytes = Convert.FromBase64String(data[i].GetProperty("embedding").GetString()!);
            var floats = Enumerable.Range(0, bytes.Length / 4).Select(k => BitConverter.ToSingle(bytes, k * 4)).ToArray();
            Assert.Equal(_backend.Embed(texts[i], EmbeddingOptions.Default), floats);
        }
    }

    [Fact]
    public async Task OpenAI_dimensions_shortens_and_renormalizes_the_vectors()
    {
        var response = await _server.PostJsonAsync("/v1/embeddings", """{"input": "short vector", "model": "m", "dimensions": 4}""");

        var vector = (await response.JsonAsync()).GetProperty("data")[0].GetProperty("embedding").Floats();
        Assert.Equal(4, vector.Length);
        Assert.Equal(1.0, Math.Sqrt(vector.Sum(x => (double)x * x)), 5);
    }

    [Fact]
    public async Task OpenAI_token_arrays_are_refused_naming_the_input_field()
    {
        var error = await (await _server.PostJsonAsync("/v1/embeddings", """{"input": [[101, 2054, 102]], "model": "m"}""")).ErrorAsync(422);

        Assert.Equal("input", error.Param());
        Assert.Contains("token", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task OpenAI_missing_input_and_unknown_encoding_name_their_fields()
    {
        var missing = await (await _server.PostJsonAsync("/v1/embeddings", """{"model": "m"}""")).ErrorAsync(422);
        Assert.Equal("input", missing.Param());
        Assert.Equal("missing_field", missing.GetProperty("code").GetString());

        var encoding = await (await _server.PostJsonAsync("/v1/embeddings", """{"input": "x", "encoding_format": "int8"}""")).ErrorAsync(422);
        Assert.Equal("encoding_format", encoding.Param());
    }

    [Fact]
    public async Task Malformed_json_is_400_with_a_json_error_naming_the_field()
    {
        var broken = await (await _server.PostJsonAsync("/embed", """{"texts": ["a", """)).ErrorAsync(400);
        Assert.Equal("invalid_json", broken.GetProperty("code").GetString());

        var wrongType = await (await _server.PostJsonAsync("/embed", """{"texts": "not an array"}""")).ErrorAsync(400);
        Assert.Equal("texts", wrongType.Param());

        await (await _server.PostJsonAsync("/embed", "")).ErrorAsync(400);
    }

    [Fact]
    public async Task Embed_applies_layers_layer_mode_pooling_and_normalize_like_the_backend()
    {
        var response = await _server.PostJsonAsync("/embed",
            """{"texts": ["alpha beta", "gamma"], "layers": [-1, 2], "layer_mode": "concat", "pooling": "max", "normalize": false}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        var options = new EmbeddingOptions { Layers = [-1, 2], LayerMode = LayerMode.Concat, Pooling = PoolingMode.Max, Normalize = false };
        Assert.Equal(2 * FakeBackend.Dims, body.GetProperty("dimensions").GetInt32());
        Assert.Equal(_backend.Embed("alpha beta", options), body.GetProperty("embeddings")[0].Floats());
        Assert.Equal(_backend.Embed("gamma", options), body.GetProperty("embeddings")[1].Floats());
        Assert.Equal([4, 3], body.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
    }

    [Theory]
    [InlineData("""{"texts": ["a"], "pooling": "median"}""", "pooling", "mean-max")]
    [InlineData("""{"texts": ["a"], "pooling": "none"}""", "pooling", "/embed/tokens")]
    [InlineData("""{"texts": ["a"], "dimensions": 99}""", "dimensions", "between 1 and 16")]
    [InlineData("""{"texts": ["a"], "layers": "-1,x"}""", "layers", "'x' is not an integer")]
    [InlineData("""{"texts": ["a"], "layer_mode": "product"}""", "layer_mode", "concat")]
    [InlineData("""{"texts": ["a"], "layers": 9}""", "layers", "0..4")]
    [InlineData("""{"texts": ["a"], "layers": [-1, "x"]}""", "layers", "integer")]
    [InlineData("""{"texts": ["a"], "dimensions": 0}""", "dimensions", "positive")]
    [InlineData("""{"pooling": "mean"}""", "texts", "required")]
    [InlineData("""{"texts": []}""", "texts", "at least one")]
    [InlineData("""{"texts": ["a", null]}""", "texts", "texts[1]")]
    public async Task Invalid_options_are_422_naming_the_field_and_what_is_allowed(string json, string field, string hint)
    {
        var error = await (await _server.PostJsonAsync("/embed", json)).ErrorAsync(422);

        Assert.Equal(field, error.Param());
        Assert.Contains(hint, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Too_many_inputs_is_422_naming_the_limit()
    {
        var texts = string.Join(",", Enumerable.Range(0, 9).Select(i => $"\"t{i}\""));
        var error = await (await _server.PostJsonAsync("/embed", $$"""{"texts": [{{texts}}]}""")).ErrorAsync(422);

        Assert.Equal("texts", error.Param());
        Assert.Contains("--max-inputs", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Too_long_input_is_422_naming_the_item_and_the_limit()
    {
        var error = await (await _server.PostJsonAsync("/embed", $$"""{"texts": ["ok", "{{new string('x', 201)}}"]}""")).ErrorAsync(422);

        Assert.Equal("texts", error.Param());
        Assert.Contains("texts[1]", error.GetProperty("message").GetString());
        Assert.Contains("--max-input-chars", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Text_over_the_model_window_counts_whole_by_default_is_cut_or_refused_as_long_text_says()
    {
        var longText = string.Join(' ', Enumerable.Range(0, 40).Select(i => "w" + i));
        int all = _backend.CountTokens(longText);
        Assert.True(all > _backend.Model.MaxTokens);

        var refused = await (await _server.PostJsonAsync("/embed", $$"""{"texts": ["{{longText}}"], "long_text": "error"}""")).ErrorAsync(422);
        Assert.Contains("tokens", refused.GetProperty("message").GetString());
        Assert.Equal("long_text", refused.Param());

        var cut = await (await _server.PostJsonAsync("/embed", $$"""{"texts": ["{{longText}}"], "long_text": "truncate"}""")).JsonAsync();
        Assert.Equal(_backend.Model.MaxTokens, cut.GetProperty("tokens")[0].GetInt32());

        var whole = await (await _server.PostJsonAsync("/embed", $$"""{"texts": ["{{longText}}"]}""")).JsonAsync();
        Assert.Equal(all, whole.GetProperty("tokens")[0].GetInt32());

        var wrong = await (await _server.PostJsonAsync("/embed", $$"""{"texts": ["a"], "long_text": "fold"}""")).ErrorAsync(422);
        Assert.Equal("long_text", wrong.Param());
    }

    [Fact]
    public async Task Body_over_the_size_limit_is_413()
    {
        var texts = string.Join(",", Enumerable.Range(0, 8).Select(_ => $"\"{new string('y', 190)}\""));
        var json = $$"""{"texts": [{{texts}}], "padding": "{{new string('p', 3000)}}"}""";

        var error = await (await _server.PostJsonAsync("/embed", json)).ErrorAsync(413);
        Assert.Contains("--max-body-bytes", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Chunked_body_over_the_size_limit_is_413_too()
    {
        var json = $$"""{"texts": ["{{new string('z', 5000)}}"]}""";
        var content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        content.Headers.ContentType = new("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/embed") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        await (await _server.Client.SendAsync(request)).ErrorAsync(413);
    }

    [Fact]
    public async Task OpenAI_dimensions_beyond_the_vector_is_422_with_the_librarys_message()
    {
        var error = await (await _server.PostJsonAsync("/v1/embeddings", """{"input": "x", "dimensions": 99}""")).ErrorAsync(422);

        Assert.Contains("dimensions must be between 1 and 16", error.GetProperty("message").GetString());
        Assert.Equal("dimensions", error.Param());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Embed_tokens_returns_each_token_with_offsets_and_its_vector()
    {
        var response = await _server.PostJsonAsync("/embed/tokens", """{"text": "Hello  world"}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var tokens = (await response.JsonAsync()).GetProperty("tokens").EnumerateArray().ToArray();
        Assert.Equal(["[CLS]", "hello", "world", "[SEP]"], tokens.Select(t => t.GetProperty("token").GetString()));
        Assert.Equal(7, tokens[2].GetProperty("start").GetInt32());
        Assert.Equal(12, tokens[2].GetProperty("end").GetInt32());
        var expected = _backend.EmbedTokens("Hello  world", EmbeddingOptions.Default);
        Assert.Equal(expected.Vectors[1], tokens[1].GetProperty("embedding").Floats());
    }

    [Fact]
    public async Task Similarity_of_texts_returns_the_cosine_matrix_similarity_to_the_set_and_neighbours()
    {
        string[] texts = ["red apple", "green apple", "fast car", "red car"];
        var response = await _server.PostJsonAsync("/similarity", """{"texts": ["red apple", "green apple", "fast car", "red car"], "top_k": 2}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.JsonAsync();
        var vectors = texts.Select(t => _backend.Embed(t, EmbeddingOptions.Default)).ToArray();
        var matrix = body.GetProperty("matrix");
        for (var i = 0; i < texts.Length; i++)
            for (var j = 0; j < texts.Length; j++)
                Assert.Equal(FakeBackend.Cosine(vectors[i], vectors[j]), matrix[i][j].GetSingle(), 5);

        var centroid = Enumerable.Range(0, FakeBackend.Dims).Select(d => vectors.Sum(v => v[d])).ToArray();
        var toSet = body.GetProperty("to_set").Floats();
        for (var i = 0; i < texts.Length; i++) Assert.Equal(FakeBackend.Cosine(vectors[i], centroid), toSet[i], 5);

        var neighbours = body.GetProperty("neighbours")[0].EnumerateArray().ToArray();
        Assert.Equal(2, neighbours.Length);
        var best = Enumerable.Range(1, 3).OrderByDescending(j => FakeBackend.Cosine(vectors[0], vectors[j])).First();
        Assert.Equal(best, neighbours[0].GetProperty("index").GetInt32());
        Assert.Equal(texts[best], neighbours[0].GetProperty("text").GetString());
        Assert.True(neighbours[0].GetProperty("score").GetSingle() >= neighbours[1].GetProperty("score").GetSingle());
    }

    [Fact]
    public async Task Similarity_of_a_query_ranks_the_candidates_and_keeps_top_k()
    {
        string[] candidates = ["apple pie", "car engine", "apple juice"];
        var response = await _server.PostJsonAsync("/similarity", """{"query": "apple", "candidates": ["apple pie", "car engine", "apple juice"], "top_k": 2}""");

        var results = (await response.JsonAsync()).GetProperty("results").EnumerateArray().ToArray();
        var query = _backend.Embed("apple", EmbeddingOptions.Default);
        var expected = Enumerable.Range(0, 3).OrderByDescending(i => FakeBackend.Cosine(query, _backend.Embed(candidates[i], EmbeddingOptions.Default))).Take(2);
        Assert.Equal(expected, results.Select(r => r.GetProperty("index").GetInt32()));
    }

    [Fact]
    public async Task Similarity_refuses_texts_together_with_a_query()
    {
        var error = await (await _server.PostJsonAsync("/similarity", """{"texts": ["a"], "query": "b", "candidates": ["c"]}""")).ErrorAsync(422);
        Assert.Equal("texts", error.Param());
    }

    [Fact]
    public async Task Keywords_ranks_the_documents_words_by_similarity_to_it()
    {
        const string document = "solar panels convert sunlight into electricity";
        var response = await _server.PostJsonAsync("/keywords", """{"document": "solar panels convert sunlight into electricity", "top_k": 3}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var keywords = (await response.JsonAsync()).GetProperty("keywords").EnumerateArray().ToArray();
        var expected = new KeywordExtractor(texts => _backend.EmbedBatch(texts, EmbeddingOptions.Default)).Extract(document, new KeywordOptions { Top = 3 });
        Assert.Equal(3, keywords.Length);
        Assert.Equal(expected.Select(k => k.Text), keywords.Select(k => k.GetProperty("keyword").GetString()));
        Assert.Equal(expected[0].Score, keywords[0].GetProperty("score").GetSingle(), 5);
    }

    [Fact]
    public async Task Keywords_checks_its_options()
    {
        var error = await (await _server.PostJsonAsync("/keywords", """{"document": "a b", "min_ngram": 2, "max_ngram": 1}""")).ErrorAsync(422);
        Assert.Equal("max_ngram", error.Param());
        var diversity = await (await _server.PostJsonAsync("/keywords", """{"document": "a b", "diversity": 1.5}""")).ErrorAsync(422);
        Assert.Equal("diversity", diversity.Param());
        var missing = await (await _server.PostJsonAsync("/keywords", """{"top_k": 2}""")).ErrorAsync(422);
        Assert.Equal("document", missing.Param());
    }

    [Fact]
    public async Task Tokenize_returns_tokens_ids_and_offsets()
    {
        var response = await _server.PostJsonAsync("/tokenize", """{"texts": ["Ab cd"]}""");

        var result = (await response.JsonAsync()).GetProperty("results")[0];
        var expected = _backend.Tokenize("Ab cd");
        Assert.Equal(expected.Tokens, result.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(expected.Ids, result.GetProperty("ids").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal([3, 5], result.GetProperty("offsets")[2].EnumerateArray().Select(t => t.GetInt32()));
    }

    [Fact]
    public async Task Info_reports_model_facts_limits_and_version()
    {
        var body = await (await _server.Client.GetAsync("/info")).JsonAsync();

        Assert.Equal("fake-hash-16", body.GetProperty("model").GetProperty("name").GetString());
        Assert.Equal(4, body.GetProperty("model").GetProperty("layers").GetInt32());
        Assert.Equal(32, body.GetProperty("model").GetProperty("max_tokens").GetInt32());
        Assert.Equal(8, body.GetProperty("limits").GetProperty("max_inputs").GetInt32());
        Assert.Equal(4096, body.GetProperty("limits").GetProperty("max_body_bytes").GetInt64());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        Assert.False(body.GetProperty("auth_required").GetBoolean());
    }

    [Fact]
    public async Task Metrics_count_requests_by_route_and_status_and_batches_in_prometheus_text()
    {
        await _server.PostJsonAsync("/embed", """{"texts": ["one", "two"]}""");
        await _server.PostJsonAsync("/embed", """{"texts": []}""");

        var response = await _server.Client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("keyembed_http_requests_total{route=\"/embed\",status=\"200\"} 1", text);
        Assert.Contains("keyembed_http_requests_total{route=\"/embed\",status=\"422\"} 1", text);
        Assert.Contains("keyembed_http_request_duration_seconds_bucket{route=\"/embed\"", text);
        Assert.Contains("keyembed_batch_size_sum 2", text);
        Assert.Contains("keyembed_queue_depth 0", text);
        Assert.Contains("keyembed_tokens_total 6", text);
    }

    [Fact]
    public async Task OpenApi_document_describes_every_route()
    {
        var response = await _server.Client.GetAsync("/openapi.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await response.JsonAsync();
        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        await File.WriteAllTextAsync(Path.Combine(artifacts, "openapi.json"), document.ToString());
        var paths = document.GetProperty("paths");
        foreach (var route in new[] { "/v1/embeddings", "/embed", "/embed/tokens", "/similarity", "/keywords", "/tokenize", "/health", "/info", "/metrics" })
            Assert.True(paths.TryGetProperty(route, out _), $"{route} is missing from the OpenAPI document");
        Assert.True(paths.GetProperty("/embed").GetProperty("post").TryGetProperty("requestBody", out _));
        var embedRequest = document.GetProperty("components").GetProperty("schemas").GetProperty("EmbedRequest").GetProperty("properties");
        Assert.True(embedRequest.TryGetProperty("layer_mode", out _), "the OpenAPI document must name fields as the wire does (snake_case)");
    }

    [Fact]
    public async Task Unknown_route_is_a_404_json_error()
    {
        var error = await (await _server.Client.GetAsync("/v1/nothing")).ErrorAsync(404);
        Assert.Contains("/info", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Page_and_its_script_are_served_from_the_assembly_without_external_links()
    {
        var page = await _server.Client.GetAsync("/");
        var html = await page.Content.ReadAsStringAsync();
        var script = await _server.Client.GetStringAsync("/app.js");

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        Assert.Contains("id=\"keywords\"", html);
        Assert.Contains("similarity", script);
        Assert.DoesNotContain("http://", html + script, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("https://", html + script, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Health_is_ready_once_the_model_is_loaded()
    {
        var response = await _server.Client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ready", (await response.JsonAsync()).GetProperty("status").GetString());
    }

    [Fact]
    public void Base64_encoding_writes_little_endian_float32()
    {
        var bytes = Convert.FromBase64String(KeyEmbed.Server.Http.Endpoints.Base64LittleEndian([1f, -2.5f]));
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0 }, bytes);
    }
}
