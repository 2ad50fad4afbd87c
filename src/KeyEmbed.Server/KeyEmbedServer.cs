using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using KeyEmbed.Server.Batching;
using KeyEmbed.Server.Http;
using KeyEmbed.Server.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KeyEmbed.Server;

/// <summary>
/// Builds the KeyEmbed HTTP service: the routes, the dynamic batcher in front of the backend, metrics, limits,
/// the optional API key and the page at <c>/</c>. Run it with <c>app.RunAsync()</c> or <c>StartAsync</c>/<c>StopAsync</c>;
/// stopping finishes the requests already accepted.
/// </summary>
public static class KeyEmbedServer
{
    /// <summary>The environment variable read for an API key when none is given on the command line.</summary>
    public const string ApiKeyVariable = "KEYEMBED_API_KEY";

    /// <summary>A service over an already loaded backend.</summary>
    public static WebApplication Build(IEmbeddingBackend backend, ServerOptions options, Action<ILoggingBuilder>? logging = null) =>
        Build(Task.FromResult(backend), options, logging);

    /// <summary>
    /// A service whose backend is still loading: it listens at once, <c>GET /health</c> answers 503 until
    /// <paramref name="backend"/> completes, and model routes answer 503 with <c>Retry-After</c> meanwhile.
    /// </summary>
    public static WebApplication Build(Task<IEmbeddingBackend> backend, ServerOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(KeyEmbedServer).Assembly.GetName().Name });
        // ASP.NET Core logs every request at Information; with no appsettings.json that would write ~10 console lines
        // per request (a load test measured the console, not the model). Startup and failures still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        if (logging is not null) logging(builder.Logging);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            // Slow and idle clients (docs/server.md "Connection limits", docs/reliability.md): bounded connections,
            // headers within a deadline, bodies at a minimum rate, idle keep-alive connections closed.
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.RequestHeadersTimeout = options.RequestHeadersTimeout;
            kestrel.Limits.MinRequestBodyDataRate = new Microsoft.AspNetCore.Server.Kestrel.Core.MinDataRate(options.MinRequestBodyBytesPerSecond, options.MinRequestBodyGrace);
            kestrel.Limits.KeepAliveTimeout = options.KeepAliveTimeout;
            kestrel.AddServerHeader = false;
        });
        builder.WebHost.UseUrls(ListenUrl(options));
        // The same settings as ServerJsonContext, so the OpenAPI document names fields as the wire does.
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            json.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            json.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
            json.SerializerOptions.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
            json.SerializerOptions.TypeInfoResolverChain.Insert(0, ServerJsonContext.Wire);
        });
        builder.Services.AddOpenApi(openApi => openApi.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "KeyEmbed";
            document.Info.Description = "Keyword and sentence embeddings, similarity and keywords. See docs/server.md.";
            document.Info.Version = ServerState.Version;
            return Task.CompletedTask;
        }));
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(new ModelHost(backend));
        builder.Services.AddSingleton<ServerMetrics>();
        builder.Services.AddSingleton(services => new DynamicBatcher(backend, BatcherSettings.From(options),
            services.GetRequiredService<ServerMetrics>(), services.GetRequiredService<ILogger<DynamicBatcher>>()));
        builder.Services.AddHostedService(services => services.GetRequiredService<DynamicBatcher>());
        builder.Services.AddSingleton<ServerState>();
        builder.Services.AddSingleton(new Stores.StoreHost(options));
        builder.Services.AddSingleton<Stores.DrainState>();
        // With a drain delay the service handles SIGTERM itself (readiness 503 first, then stop); see DrainingLifetime.
        if (options.DrainDelay is not null) builder.Services.AddSingleton<IHostLifetime, Stores.DrainingLifetime>();

        var app = builder.Build();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(KeyEmbedServer).FullName!);
        _ = backend.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) log.LogInformation("Model {Model} is ready", t.Result.Model.Name);
            else if (t.Exception?.GetBaseException() is KeyEmbedException failure) log.LogError("The model failed to load: {Reason}", failure.Message);
            else log.LogError(t.Exception?.GetBaseException(), "The model failed to load");
        }, TaskScheduler.Default);

        var metrics = app.Services.GetRequiredService<ServerMetrics>();
        // Routing first, so every later stage (metrics labels included) knows the route; `/` becomes `/index.html` before it.
        var page = new EmbeddedFileProvider(typeof(KeyEmbedServer).Assembly, "KeyEmbed.Server.wwwroot");
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = page });
        app.Use(AssumeJsonBody);
        app.UseRouting();
        app.Use((context, next) => MeasureAsync(context, next, metrics));
        app.Use((context, next) => TranslateErrorsAsync(context, next, options, log));
        if (options.ApiKey is { } key) app.Use((context, next) => RequireKeyAsync(context, next, key));
        // Serves the page's files only where no route matched.
        app.UseStaticFiles(new StaticFileOptions { FileProvider = page });
        Endpoints.Map(app);
        StoreEndpoints.Map(app);
        app.MapOpenApi("/openapi.json");
        app.MapFallback(context => throw Unrouted(context.Request));
        return app;
    }

    /// <summary>
    /// A JSON route's body is JSON whatever the request calls it: OpenAI clients and <c>curl -d</c> send no
    /// Content-Type or <c>application/x-www-form-urlencoded</c>. A body that is not JSON still fails as malformed JSON (400).
    /// </summary>
    private static Task AssumeJsonBody(HttpContext context, Func<Task> next)
    {
        var request = context.Request;
        if (HttpMethods.IsPost(request.Method) && Endpoints.IsPostRoute(request.Path)
            && (string.IsNullOrEmpty(request.ContentType) || request.HasFormContentType && !request.ContentType.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase)
                || request.ContentType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase)))
            request.ContentType = "application/json";
        return next();
    }

    /// <summary>No endpoint matched: a known path with the wrong method (405), a body that is not JSON (415), or no such route (404).</summary>
    private static ApiException Unrouted(HttpRequest request)
    {
        var methods = Endpoints.MethodsOf(request.Path);
        if (methods.Count == 0)
            return new ApiException(ApiErrorKind.NotFound, $"No route {request.Method} {request.Path}; GET /info lists the routes.");
        if (!methods.Contains(request.Method, StringComparer.OrdinalIgnoreCase))
            return new ApiException(ApiErrorKind.MethodNotAllowed, $"{request.Path} takes {string.Join(" or ", methods)}, not {request.Method}.");
        return new ApiException(ApiErrorKind.UnsupportedMediaType,
            $"{request.Method} {request.Path} takes a JSON body; Content-Type '{request.ContentType}' is not JSON (send application/json).");
    }

    /// <summary>The address a started service listens on (with the real port when <see cref="ServerOptions.Port"/> was 0).</summary>
    public static Uri ListeningUri(this WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("The service is not listening yet; call StartAsync first.");
        return new Uri(first.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://[::]", "://localhost", StringComparison.Ordinal));
    }

    private static string ListenUrl(ServerOptions options)
    {
        var host = options.Host.Contains(':') && !options.Host.StartsWith('[') ? $"[{options.Host}]" : options.Host;
        return $"http://{host}:{options.Port}";
    }

    /// <summary>Request count and latency by route pattern (not by raw path, so label cardinality stays bounded).</summary>
    private static async Task MeasureAsync(HttpContext context, Func<Task> next, ServerMetrics metrics)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next();
        }
        finally
        {
            var route = context.GetEndpoint() is RouteEndpoint endpoint && endpoint.RoutePattern.RawText is { } pattern && !pattern.Contains('*')
                ? "/" + pattern.TrimStart('/')
                : context.Response.StatusCode == StatusCodes.Status404NotFound ? "unmatched" : "static";
            metrics.Requests.WithLabels(route, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            metrics.RequestSeconds.WithLabels(route).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>Every failure becomes <c>{error:{message,type,param,code}}</c> with the status from <see cref="ErrorTable"/>.</summary>
    private static async Task TranslateErrorsAsync(HttpContext context, Func<Task> next, ServerOptions options, ILogger log)
    {
        try
        {
            await next();
        }
        catch (Exception e) when ((context.RequestAborted.IsCancellationRequested && e is OperationCanceledException or IOException)
                                  || e is Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            // The client went away (a cancelled read, or a reset mid-body: ConnectionResetException); nobody is left to
            // answer and nothing failed on our side (the soak logged each disconnect as a failed request before).
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            var (kind, param) = e switch
            {
                ApiException api => (api.Kind, api.Param),
                KeyEmbedException keyEmbed => (ErrorTable.From(keyEmbed.Kind), null),
                BadHttpRequestException bad when bad.StatusCode == StatusCodes.Status413PayloadTooLarge => (ApiErrorKind.PayloadTooLarge, null),
                BadHttpRequestException => (ApiErrorKind.MalformedRequest, (string?)null),
                _ => (ApiErrorKind.Internal, null),
            };
            var mapping = ErrorTable.For(kind);
            var message = kind == ApiErrorKind.PayloadTooLarge && e is BadHttpRequestException
                ? $"The request body exceeds the limit of {options.MaxBodyBytes} bytes (--max-body-bytes)."
                : kind == ApiErrorKind.Internal ? "An internal error occurred; the server log has the details." : e.Message;
            if (mapping.Status >= 500 && kind != ApiErrorKind.Overloaded && kind != ApiErrorKind.ModelLoading)
                log.LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            context.Response.Clear();
            context.Response.StatusCode = mapping.Status;
            if (mapping.RetryAfter) context.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (kind == ApiErrorKind.Unauthorized) context.Response.Headers.WWWAuthenticate = "Bearer";
            if (kind == ApiErrorKind.MethodNotAllowed) context.Response.Headers.Allow = string.Join(", ", Endpoints.MethodsOf(context.Request.Path));
            // The unread rest of a too-large body cannot be drained, so Kestrel closes the connection after this answer;
            // saying so lets the client open a new one instead of sending its next request into a closing socket
            // (found by the soak: the request after a 413 on a kept-alive connection failed with "response ended").
            if (kind == ApiErrorKind.PayloadTooLarge) context.Response.Headers.Connection = "close";
            await context.Response.WriteAsJsonAsync(new ErrorResponse(new ErrorBody(message, mapping.Type, param, mapping.Code)),
                ServerJsonContext.Wire.ErrorResponse);
        }
    }

    /// <summary>The page's files, <c>/health</c> and <c>/health/ready</c> are open; everything else needs the bearer key.</summary>
    private static Task RequireKeyAsync(HttpContext context, Func<Task> next, string key)
    {
        var path = context.Request.Path;
        var open = path == "/health" || path == "/health/ready" || (HttpMethods.IsGet(context.Request.Method) && IsPageFile(path));
        if (open) return next();
        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            throw new ApiException(ApiErrorKind.Unauthorized, "This service needs an API key: send 'Authorization: Bearer <key>'.");
        var given = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        if (!CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes(key)))
            throw new ApiException(ApiErrorKind.Unauthorized, "The API key is not valid.");
        return next();
    }

    private static bool IsPageFile(PathString path) =>
        path == "/" || path == "/index.html" || path == "/app.js" || path == "/app.css";
}
