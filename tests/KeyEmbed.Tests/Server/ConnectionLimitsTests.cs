using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using KeyEmbed.Server;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Tests.Server;

public sealed class ConnectionLimitsTests
{
    // Found by the soak: a 413 on a kept-alive connection left it open-looking while Kestrel closed it (the rest of the
    // body cannot be drained), and the client's next request on it failed. The answer now says Connection: close.
    [Fact]
    public async Task A_too_large_body_is_answered_413_with_connection_close_and_the_next_request_succeeds()
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend(), new ServerOptions { MaxBodyBytes = 1024 });
        var body = """{"texts": ["x"]}""" + new string(' ', 2000);
        for (int i = 0; i < 5; i++)
        {
            var tooLarge = await server.PostJsonAsync("/embed", body);
            await tooLarge.ErrorAsync(413);
            Assert.True(tooLarge.Headers.ConnectionClose, "413 without Connection: close");
            Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/embed", """{"texts": ["y"]}""")).StatusCode);
        }
    }

    // Found by the 10-minute soak: a client that writes its whole oversized body before reading (as most do) got a
    // broken pipe instead of the 413 once the body outgrew the socket buffers. The rest of the body is now drained.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_writing_a_body_far_over_the_limit_reads_the_413(bool chunked)
    {
        await using var server = await RunningServer.StartAsync(new FakeBackend(), new ServerOptions { MaxBodyBytes = 1024 });
        const int size = 8 * 1024 * 1024;
        using var socket = await Connect(server.Address);
        var head = chunked
            ? "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            : $"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        var piece = new byte[64 * 1024];
        Array.Fill(piece, (byte)' ');
        for (int sent = 0; sent < size; sent += piece.Length)
        {
            if (chunked) await socket.SendAsync(Encoding.ASCII.GetBytes($"{piece.Length:x}\r\n"));
            await socket.SendAsync(piece);
            if (chunked) await socket.SendAsync("\r\n"u8.ToArray());
        }
        if (chunked) await socket.SendAsync("0\r\n\r\n"u8.ToArray());

        var answer = new MemoryStream();
        var buffer = new byte[4096];
        int read;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0) answer.Write(buffer, 0, read);
        var text = Encoding.UTF8.GetString(answer.ToArray());
        Assert.StartsWith("HTTP/1.1 413", text);
        Assert.Contains("payload_too_large", text);
    }

    private static async Task<Socket> Connect(Uri address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, address.Port);
        return socket;
    }

    // Reads until the service closes the connection (or answers and closes); how long that took.
    private static async Task<TimeSpan> UntilClosed(Socket socket, Func<Task> trickle, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        var buffer = new byte[1024];
        var receive = socket.ReceiveAsync(buffer, SocketFlags.None);
        while (clock.Elapsed < limit)
        {
            if (await Task.WhenAny(receive, Task.Delay(200)) == receive)
            {
                if (await receive == 0) return clock.Elapsed;
                receive = socket.ReceiveAsync(buffer, SocketFlags.None);
                continue;
            }
            try { await trickle(); } catch (SocketException) { return clock.Elapsed; }
        }
        throw new Xunit.Sdk.XunitException($"the service kept the connection open for {limit.TotalSeconds} s");
    }

    [Fact]
    public async Task Clients_trickling_headers_or_body_are_cut_off_while_others_are_served()
    {
        var options = new ServerOptions { RequestHeadersTimeout = TimeSpan.FromSeconds(1), MinRequestBodyGrace = TimeSpan.FromSeconds(2) };
        await using var server = await RunningServer.StartAsync(new FakeBackend(), options);

        using var headers = await Connect(server.Address);
        await headers.SendAsync(Encoding.ASCII.GetBytes("GET /health HTTP/1.1\r\nHost: x\r\n"));
        var slowHeaders = UntilClosed(headers, () => headers.SendAsync("a"u8.ToArray()), TimeSpan.FromSeconds(20));

        using var body = await Connect(server.Address);
        await body.SendAsync(Encoding.ASCII.GetBytes("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"));
        var slowBody = UntilClosed(body, () => body.SendAsync(" "u8.ToArray()), TimeSpan.FromSeconds(20));

        // Meanwhile the service answers everyone else.
        for (int i = 0; i < 5; i++)
            Assert.Equal(HttpStatusCode.OK, (await server.PostJsonAsync("/embed", """{"texts": ["x"]}""")).StatusCode);

        Assert.True(await slowHeaders < TimeSpan.FromSeconds(15));
        Assert.True(await slowBody < TimeSpan.FromSeconds(15));
    }

    [Fact]
    public void Connection_limits_must_be_positive()
    {
        Assert.Throws<KeyEmbedException>(() => new ServerOptions { MaxConnections = 0 }.Validate());
        Assert.Throws<KeyEmbedException>(() => new ServerOptions { RequestHeadersTimeout = TimeSpan.Zero }.Validate());
        Assert.Throws<KeyEmbedException>(() => new ServerOptions { MinRequestBodyBytesPerSecond = 0 }.Validate());
        Assert.Throws<KeyEmbedException>(() => new ServerOptions { MinRequestBodyGrace = TimeSpan.FromSeconds(1) }.Validate());
        new ServerOptions().Validate();
    }
}

public sealed class ClientDisconnectLoggingTests
{
    // Found by the soak: a client resetting its connection in the middle of a body was logged as a failed request
    // (ConnectionResetException, level Error). It is the client's doing: nothing is logged at Error.
    [Fact]
    public async Task A_client_resetting_mid_body_is_not_logged_as_a_failure()
    {
        var log = new Capture();
        var app = KeyEmbedServer.Build(new FakeBackend(), new ServerOptions { Host = "127.0.0.1", Port = 0 },
            logging => { logging.ClearProviders(); logging.AddProvider(log); });
        await app.StartAsync();
        try
        {
            for (int i = 0; i < 5; i++)
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, app.ListeningUri().Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes("POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"texts\": [\"ab"));
                await Task.Delay(200);
                socket.Close(0); // reset
            }
            using var client = new HttpClient { BaseAddress = app.ListeningUri() };
            await Task.Delay(500);
            Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/embed", new StringContent("""{"texts": ["x"]}""", Encoding.UTF8, "application/json"))).StatusCode);
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
        Assert.DoesNotContain(log.Entries, e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error && e.Category.StartsWith("KeyEmbed", StringComparison.Ordinal));
    }

    private sealed class Capture : Microsoft.Extensions.Logging.ILoggerProvider
    {
        public List<(string Category, Microsoft.Extensions.Logging.LogLevel Level)> Entries { get; } = [];

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose() { }

        private sealed class Logger(Capture owner, string category) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                lock (owner.Entries) owner.Entries.Add((category, logLevel));
            }
        }
    }
}
