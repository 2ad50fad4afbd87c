using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace KeyEmbed.Server.Http;

/// <summary>Reads a JSON body within the size limit; malformed JSON is a 400 naming the JSON path, and a field the
/// route does not know is a 400 naming it (a misspelt option must not be silently ignored).</summary>
internal static class RequestReader
{
    /// <summary>
    /// How much of a too-large body is read and thrown away before the 413 goes out. A client that writes its whole
    /// body before reading the answer (most do) would otherwise get a broken pipe instead of the 413 once the body
    /// outgrows the socket buffers; past this much the connection is closed unread.
    /// </summary>
    public const long DrainLimitBytes = 32L * 1024 * 1024;

    public static async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, long maxBytes) where T : class
    {
        var request = context.Request;
        // This reader enforces maxBytes itself; Kestrel's own limit (the same value, for any other body) is raised for
        // this request so that the rest of a too-large body can be drained.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = maxBytes + DrainLimitBytes;
        if (request.ContentLength > maxBytes)
        {
            if (request.ContentLength <= maxBytes + DrainLimitBytes) await DrainAsync(context, 0).ConfigureAwait(false);
            throw TooLarge(request.ContentLength.Value, maxBytes);
        }
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes)
            {
                await DrainAsync(context, buffer.Length + read).ConfigureAwait(false);
                throw TooLarge(null, maxBytes);
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
            throw new ApiException(ApiErrorKind.MalformedRequest, "The request body is empty; send a JSON object (Content-Type: application/json).");
        var body = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        // System.Text.Json checks UTF-8 only where it transcodes a string, so invalid bytes inside a field name would
        // surface later as an InvalidOperationException (a 500; found by fuzzing the service): refuse them here.
        if (!System.Text.Unicode.Utf8.IsValid(body.Span))
            throw new ApiException(ApiErrorKind.MalformedRequest, "The request body is not valid UTF-8; send JSON encoded as UTF-8.");
        RefuseUnknownFields(body, typeInfo);
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(body.Span, typeInfo);
        }
        catch (JsonException e)
        {
            var where = string.IsNullOrEmpty(e.Path) || e.Path == "$" ? "" : $" at {e.Path}";
            var line = e.LineNumber is { } n ? $" (line {n + 1}, byte {e.BytePositionInLine + 1})" : "";
            throw new ApiException(ApiErrorKind.MalformedRequest,
                $"The request body is not valid JSON for this route{where}{line}: {FirstSentence(e.Message)}",
                FieldName(e.Path));
        }
        return value ?? throw new ApiException(ApiErrorKind.MalformedRequest, "The request body is JSON null; send a JSON object.");
    }

    /// <summary>Walks the body against the route's wire type: every object's fields must be ones the type declares.
    /// Free-form values (<see cref="JsonElement"/>, such as an item's metadata) are not walked. A body that does not
    /// parse is left to the deserializer, whose message names the position.</summary>
    private static void RefuseUnknownFields(ReadOnlyMemory<byte> body, JsonTypeInfo typeInfo)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(body); }
        catch (JsonException) { return; }
        using (document)
        {
            var unknown = new List<string>();
            try { Walk(document.RootElement, typeInfo, "", unknown); }
            catch (InvalidOperationException)
            {
                // JsonDocument unescapes a name only when it is read; "\uD800" alone is not text (found by fuzzing).
                throw new ApiException(ApiErrorKind.MalformedRequest,
                    "The request body has a field name that is not valid text (an unpaired UTF-16 surrogate escape such as \\uD800); send field names as the route documents them.");
            }
            if (unknown.Count == 0) return;
            var known = typeInfo.Properties.Select(p => p.Name).Order(StringComparer.Ordinal);
            var field = unknown[0];
            throw new ApiException(ApiErrorKind.UnknownField,
                (unknown.Count == 1 ? $"Unknown field '{field}'" : $"Unknown fields {string.Join(", ", unknown.Select(u => $"'{u}'"))}")
                + $" in the request; this route reads {string.Join(", ", known)} (see GET /info and docs/server.md).",
                field.Split('.', '[')[0]);
        }
    }

    private static void Walk(JsonElement element, JsonTypeInfo typeInfo, string path, List<string> unknown)
    {
        switch (typeInfo.Kind)
        {
            case JsonTypeInfoKind.Object when element.ValueKind == JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    var declared = typeInfo.Properties.FirstOrDefault(p => p.Name == property.Name);
                    var where = path.Length == 0 ? property.Name : $"{path}.{property.Name}";
                    if (declared is null) unknown.Add(where);
                    else Walk(property.Value, typeInfo.Options.GetTypeInfo(declared.PropertyType), where, unknown);
                }
                break;
            case JsonTypeInfoKind.Enumerable when element.ValueKind == JsonValueKind.Array && typeInfo.ElementType is { } itemType:
                var items = typeInfo.Options.GetTypeInfo(itemType);
                int index = 0;
                foreach (var item in element.EnumerateArray()) Walk(item, items, $"{path}[{index++}]", unknown);
                break;
        }
    }

    /// <summary>Reads and discards the rest of the body, up to <see cref="DrainLimitBytes"/>; a client that stops
    /// sending or sends more is left to Kestrel's minimum data rate and limit, and the connection closes.</summary>
    private static async Task DrainAsync(HttpContext context, long alreadyRead)
    {
        var discard = new byte[64 * 1024];
        long drained = alreadyRead;
        try
        {
            int read;
            while (drained <= DrainLimitBytes
                   && (read = await context.Request.Body.ReadAsync(discard, context.RequestAborted).ConfigureAwait(false)) > 0)
                drained += read;
        }
        catch (Exception e) when (e is IOException or BadHttpRequestException or OperationCanceledException)
        {
            // The client went away or broke a limit mid-body: the 413 is still the answer, if it can be delivered.
        }
    }

    private static ApiException TooLarge(long? length, long maxBytes) =>
        new(ApiErrorKind.PayloadTooLarge,
            length is { } n
                ? $"The request body has {n} bytes; the limit is {maxBytes} (--max-body-bytes)."
                : $"The request body exceeds the limit of {maxBytes} bytes (--max-body-bytes).");

    /// <summary><c>$.texts[2]</c> → <c>texts</c>: the field, as OpenAI's <c>param</c>.</summary>
    private static string? FieldName(string? path)
    {
        if (string.IsNullOrEmpty(path) || !path.StartsWith("$.", StringComparison.Ordinal)) return null;
        var name = path[2..];
        var end = name.IndexOfAny(['.', '[']);
        return end < 0 ? name : name[..end];
    }

    private static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut].TrimEnd() : message;
    }
}
