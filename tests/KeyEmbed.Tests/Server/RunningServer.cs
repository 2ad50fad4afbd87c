using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using KeyEmbed.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Tests.Server;

/// <summary>The real service (Kestrel) on a free loopback port, with a client pointed at it.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(WebApplication app, HttpClient client)
    {
        App = app;
        Client = client;
    }

    public WebApplication App { get; }
    public HttpClient Client { get; }
    public Uri Address => Client.BaseAddress!;

    public static Task<RunningServer> StartAsync(IEmbeddingBackend backend, ServerOptions? options = null) =>
        StartAsync(Task.FromResult(backend), options);

    public static async Task<RunningServer> StartAsync(Task<IEmbeddingBackend> backend, ServerOptions? options = null)
    {
        var app = KeyEmbedServer.Build(backend, (options ?? new ServerOptions()) with { Host = "127.0.0.1", Port = 0 },
            logging => logging.ClearProviders());
        await app.StartAsync();
        var client = new HttpClient { BaseAddress = app.ListeningUri(), Timeout = TimeSpan.FromSeconds(60) };
        return new RunningServer(app, client);
    }

    public Task<HttpResponseMessage> PostJsonAsync(string route, string json, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, route) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return Client.SendAsync(request);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
    }
}

/// <summary>Reading responses in tests.</summary>
internal static class ResponseReading
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    public static float[] Floats(this JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetSingle())];

    /// <summary>Asserts an OpenAI-shaped error and returns its body.</summary>
    public static async Task<JsonElement> ErrorAsync(this HttpResponseMessage response, int status)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.MediaType);
        var error = (await response.JsonAsync()).GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("type").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("code").GetString()));
        return error;
    }

    public static string? Param(this JsonElement error) =>
        error.TryGetProperty("param", out var param) && param.ValueKind == JsonValueKind.String ? param.GetString() : null;
}
