using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;

namespace KeyEmbed.Server.Http;

/// <summary>Reads a JSON body within the size limit; malformed JSON is a 400 naming the JSON path.</summary>
internal static class RequestReader
{
    public static async Task<T> ReadAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, long maxBytes) where T : class
    {
        var request = context.Request;
        if (request.ContentLength > maxBytes) throw TooLarge(request.ContentLength.Value, maxBytes);
        var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > maxBytes) throw TooLarge(null, maxBytes);
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
            throw new ApiException(ApiErrorKind.MalformedRequest, "The request body is empty; send a JSON object (Content-Type: application/json).");
        T? value;
        try
        {
            value = JsonSerializer.Deserialize(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), typeInfo);
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
