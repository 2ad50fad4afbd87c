using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace KeyEmbed.Tests.Server;

/// <summary>What clients actually send: bodies without a JSON Content-Type, wrong methods, non-JSON media types.</summary>
public sealed class RequestShapeTests
{
    private static ByteArrayContent Body(string json, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        if (contentType is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        return content;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData("text/plain; charset=utf-8")]
    public async Task A_json_body_without_a_json_content_type_is_read_as_json(string? contentType)
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.PostAsync("/v1/embeddings", Body("""{"input": ["a b", "c"]}""", contentType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, (await response.JsonAsync()).GetProperty("data").GetArrayLength());

        response = await server.Client.PostAsync("/embed", Body("""{"texts": ["a b"]}""", contentType));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_still_a_400_naming_json()
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.PostAsync("/v1/embeddings", Body("input=hello", "application/x-www-form-urlencoded"));
        var error = await response.ErrorAsync(400);
        Assert.Contains("JSON", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task A_wrong_method_on_a_route_is_405_with_allow()
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.GetAsync("/v1/embeddings");
        var error = await response.ErrorAsync(405);
        Assert.Equal("method_not_allowed", error.GetProperty("code").GetString());
        Assert.Contains("POST", error.GetProperty("message").GetString());
        Assert.Equal(["POST"], response.Content.Headers.Allow);

        response = await server.Client.PostAsync("/health", Body("{}", "application/json"));
        await response.ErrorAsync(405);
        // A path that is no route at all stays 404.
        response = await server.Client.GetAsync("/v2/nothing");
        await response.ErrorAsync(404);
    }

    [Fact]
    public async Task A_media_type_that_cannot_be_json_is_415()
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.PostAsync("/v1/embeddings", Body("--x--", "multipart/form-data; boundary=x"));
        var error = await response.ErrorAsync(415);
        Assert.Contains("application/json", error.GetProperty("message").GetString());
    }

    [Theory]
    [InlineData("/embed", """{"texts": ["a"], "pooling": "mean", "layer": 3}""", "layer")]
    [InlineData("/v1/embeddings", """{"input": "a", "encoding": "base64"}""", "encoding")]
    [InlineData("/similarity", """{"text": ["a", "b"]}""", "text")]
    public async Task A_field_the_route_does_not_know_is_a_400_naming_it(string route, string json, string field)
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.PostAsync(route, Body(json, "application/json"));
        var error = await response.ErrorAsync(400);
        Assert.Equal(field, error.GetProperty("param").GetString());
        Assert.Equal("unknown_field", error.GetProperty("code").GetString());
        Assert.Contains($"'{field}'", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Free_form_metadata_is_not_checked_but_item_fields_are()
    {
        using var dir = new TempDir();
        using var store = KeyEmbed.Stores.VectorStores.Open(dir.File("s"), KeyEmbed.Stores.StoreAccess.Write);
        await using var server = await RunningServer.StartAsync(
            KeyEmbed.Server.KeyEmbedModelBackend.Load(SharedData.Golden("bert-tiny-random")), new KeyEmbed.Server.ServerOptions { Store = store });

        var response = await server.Client.PostAsync("/v1/index", Body("""{"items": [{"id": "1", "txt": "a"}]}""", "application/json"));
        var error = await response.ErrorAsync(400);
        Assert.Contains("'items[0].txt'", error.GetProperty("message").GetString());

        response = await server.Client.PostAsync("/v1/index", Body("""{"items": [{"id": "1", "text": "a", "metadata": {"anything": 1}}]}""", "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    // Found by fuzzing the service: invalid UTF-8 inside a field name reached the unknown-field check, which threw
    // InvalidOperationException (a 500) when it read the name.
    [Theory]
    [InlineData("/similarity", "{\"texts\": [\"a\", \"b\"], \"candidat\u0083s\": [\"c\"]}")]
    [InlineData("/embed/tokens", "{\"te\u0087t\": \"a river\"}")]
    [InlineData("/embed", "{\"texts\": [\"caf\u00e9\"]}")]
    public async Task Invalid_utf8_anywhere_in_the_body_is_a_400_naming_utf8(string route, string template)
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());
        // Each char of the template below U+0100 is one byte: a lone byte 0x80..0xFF is invalid UTF-8.
        var bytes = template.Select(c => (byte)c).ToArray();
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/json");

        var response = await server.Client.PostAsync(route, content);
        var error = await response.ErrorAsync(400);
        Assert.Contains("UTF-8", error.GetProperty("message").GetString());
    }

    // Found by fuzzing the service: an unpaired surrogate escape in a field name (valid UTF-8, invalid text) threw
    // InvalidOperationException when the unknown-field check read the name (a 500); in a value it is a 400 already.
    [Theory]
    [InlineData("/similarity", """{"candidates": ["river", "l"], "DBFF\uDFFFop_k": 2}""")]
    [InlineData("/keywords", """{"document": "the river", "remove_sto\uD800p_words": true}""")]
    [InlineData("/v1/embeddings", """{"input": ["a"], "model\uDBFF": "x"}""")]
    [InlineData("/embed", """{"texts": ["a \uD800 b"]}""")]
    public async Task An_unpaired_surrogate_escape_in_a_name_or_value_is_a_400(string route, string json)
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend());

        var response = await server.Client.PostAsync(route, Body(json, "application/json"));
        await response.ErrorAsync(400);
    }
}
