using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using KeyEmbed.Cli;
using KeyEmbed.Cli.Commands;
using KeyEmbed.Server;
using KeyEmbed.Tests.Server;

namespace KeyEmbed.Tests.Cli;

public sealed class ServeCommandTests
{
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static (Task<int> Exit, StringWriter Out, StringWriter Error) Serve(string[] args, Func<string, IEmbeddingBackend> load,
        CancellationToken stop, Func<string, string?>? environment = null)
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        var command = ServeCommand.Create(new CliContext(output, error), environment ?? (_ => null), (model, _) => load(model), stop);
        var exit = Task.Run(() => command.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = error }));
        return (exit, output, error);
    }

    private static async Task<HttpResponseMessage> WaitForHealth(HttpClient client, Task<int> exit)
    {
        for (var i = 0; i < 200 && !exit.IsCompleted; i++)
        {
            try
            {
                var response = await client.GetAsync("/health");
                if (response.StatusCode == HttpStatusCode.OK) return response;
            }
            catch (HttpRequestException) { }
            await Task.Delay(50);
        }
        throw new Xunit.Sdk.XunitException("the service never became healthy");
    }

    [Fact]
    public async Task Serve_listens_on_the_given_port_with_the_given_limits_and_stops_cleanly()
    {
        var port = FreePort();
        using var stop = new CancellationTokenSource();
        string? loaded = null;
        var (exit, output, _) = Serve(["--model", "tiny-model", "--port", port.ToString(), "--api-key", "k1", "--max-inputs", "3", "--max-wait-ms", "5"],
            model => { loaded = model; return new FakeBackend(); }, stop.Token);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        await WaitForHealth(client, exit);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "k1");
        var limits = (await (await client.GetAsync("/info")).JsonAsync()).GetProperty("limits");
        stop.Cancel();

        Assert.Equal(0, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal("tiny-model", loaded);
        Assert.Equal(3, limits.GetProperty("max_inputs").GetInt32());
        Assert.Equal(5, limits.GetProperty("max_batch_wait_ms").GetDouble());
        Assert.Contains($":{port}", output.ToString());
        Assert.Contains("ready", output.ToString());
    }

    [Fact]
    public async Task Serve_takes_the_api_key_from_the_environment_when_none_is_given()
    {
        var port = FreePort();
        using var stop = new CancellationTokenSource();
        var (exit, _, _) = Serve(["--port", port.ToString()], _ => new FakeBackend(), stop.Token,
            name => name == KeyEmbedServer.ApiKeyVariable ? "from-env" : null);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        await WaitForHealth(client, exit);
        var without = await client.GetAsync("/info");
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "from-env");
        var with = await client.GetAsync("/info");
        stop.Cancel();

        Assert.Equal(HttpStatusCode.Unauthorized, without.StatusCode);
        Assert.Equal(HttpStatusCode.OK, with.StatusCode);
        Assert.Equal(0, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Serve_loads_the_model_with_the_given_precision_threads_and_cache()
    {
        var (output, error) = (new StringWriter(), new StringWriter());
        KeyEmbedModelOptions? received = null;
        var command = ServeCommand.Create(new CliContext(output, error), _ => null,
            (_, options) => { received = options; throw new KeyEmbedException(ErrorKind.InvalidCheckpoint, "stop here"); }, CancellationToken.None);
        var exit = await Task.Run(() => command.Parse(["--port", FreePort().ToString(), "--precision", "int8", "--threads", "1", "--cache-mb", "0"])
            .Invoke(new InvocationConfiguration { Output = output, Error = error }));

        Assert.Equal(CliApp.UserError, exit);
        Assert.NotNull(received);
        Assert.Equal(KeyEmbed.Architectures.ComputePrecision.Int8, received.ComputePrecision);
        Assert.Equal(1, received.Threads);
        Assert.Equal(0, received.CacheBytes);
    }

    [Theory]
    [InlineData("--precision", "int4", "--precision")]
    [InlineData("--cache-mb", "-1", "--cache-mb")]
    public async Task Serve_names_a_bad_model_option(string option, string value, string named)
    {
        var (exit, _, error) = Serve(["--port", FreePort().ToString(), option, value], _ => new FakeBackend(), CancellationToken.None);

        Assert.Equal(CliApp.UserError, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(named, error.ToString());
    }

    [Fact]
    public async Task Serve_exits_with_the_loaders_error_when_the_model_cannot_load()
    {
        var (exit, _, error) = Serve(["--port", FreePort().ToString()],
            model => throw new KeyEmbedException(ErrorKind.InvalidCheckpoint, $"{model}: config.json is missing"), CancellationToken.None);

        Assert.Equal(CliApp.UserError, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("error: minilm: config.json is missing", error.ToString());
    }

    [Theory]
    [InlineData("--port", "70000", "--port")]
    [InlineData("--max-queue", "0", "--max-queue")]
    [InlineData("--api-key", "", "--api-key")]
    public async Task Serve_refuses_a_bad_option_naming_it(string option, string value, string named)
    {
        var (exit, _, error) = Serve([option, value], _ => new FakeBackend(), CancellationToken.None);

        Assert.Equal(CliApp.UserError, await exit.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains(named, error.ToString());
    }

    [Fact]
    public void Serve_is_a_registered_command_listing_its_options()
    {
        var (output, error) = (new StringWriter(), new StringWriter());

        CliApp.Run(["serve", "--help"], output, error);

        foreach (var option in new[] { "--model", "--host", "--port", "--api-key", "--max-batch-tokens", "--max-queue", "--max-body-bytes" })
            Assert.Contains(option, output.ToString());
    }
}
