using Microsoft.AspNetCore.Http;

namespace KeyEmbed.Server.Http;

/// <summary>Every way a request can fail, as the client sees it. <see cref="ErrorTable"/> gives each its status.</summary>
internal enum ApiErrorKind
{
    MalformedRequest,
    UnknownField,
    InvalidField,
    MissingField,
    Unauthorized,
    NotFound,
    MethodNotAllowed,
    UnsupportedMediaType,
    PayloadTooLarge,
    Overloaded,
    ModelLoading,
    ModelError,
    Runtime,
    Internal,
}

/// <summary>A failure with the field (OpenAI's <c>param</c>) it concerns, if any.</summary>
internal sealed class ApiException(ApiErrorKind kind, string message, string? param = null) : Exception(message)
{
    public ApiErrorKind Kind { get; } = kind;
    public string? Param { get; } = param;

    public static ApiException Missing(string field, string what) =>
        new(ApiErrorKind.MissingField, $"'{field}' is required: {what}.", field);

    public static ApiException Invalid(string field, string problem) =>
        new(ApiErrorKind.InvalidField, $"'{field}' {problem}", field);
}

/// <summary>HTTP status, OpenAI error type and code of a failure.</summary>
internal sealed record ErrorMapping(int Status, string Type, string Code, bool RetryAfter = false);

/// <summary>The one table from failures to HTTP responses.</summary>
internal static class ErrorTable
{
    private static readonly Dictionary<ApiErrorKind, ErrorMapping> ByKind = new()
    {
        [ApiErrorKind.MalformedRequest] = new(StatusCodes.Status400BadRequest, "invalid_request_error", "invalid_json"),
        [ApiErrorKind.UnknownField] = new(StatusCodes.Status400BadRequest, "invalid_request_error", "unknown_field"),
        [ApiErrorKind.InvalidField] = new(StatusCodes.Status422UnprocessableEntity, "invalid_request_error", "invalid_value"),
        [ApiErrorKind.MissingField] = new(StatusCodes.Status422UnprocessableEntity, "invalid_request_error", "missing_field"),
        [ApiErrorKind.Unauthorized] = new(StatusCodes.Status401Unauthorized, "authentication_error", "invalid_api_key"),
        [ApiErrorKind.NotFound] = new(StatusCodes.Status404NotFound, "invalid_request_error", "not_found"),
        [ApiErrorKind.MethodNotAllowed] = new(StatusCodes.Status405MethodNotAllowed, "invalid_request_error", "method_not_allowed"),
        [ApiErrorKind.UnsupportedMediaType] = new(StatusCodes.Status415UnsupportedMediaType, "invalid_request_error", "unsupported_media_type"),
        [ApiErrorKind.PayloadTooLarge] = new(StatusCodes.Status413PayloadTooLarge, "invalid_request_error", "payload_too_large"),
        [ApiErrorKind.Overloaded] = new(StatusCodes.Status503ServiceUnavailable, "server_error", "overloaded", RetryAfter: true),
        [ApiErrorKind.ModelLoading] = new(StatusCodes.Status503ServiceUnavailable, "server_error", "model_loading", RetryAfter: true),
        [ApiErrorKind.ModelError] = new(StatusCodes.Status500InternalServerError, "server_error", "model_error"),
        [ApiErrorKind.Runtime] = new(StatusCodes.Status500InternalServerError, "server_error", "runtime_error"),
        [ApiErrorKind.Internal] = new(StatusCodes.Status500InternalServerError, "server_error", "internal_error"),
    };

    public static ErrorMapping For(ApiErrorKind kind) => ByKind[kind];

    /// <summary>The library's error families, as the service reports them.</summary>
    public static ApiErrorKind From(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidInput => ApiErrorKind.InvalidField,
        ErrorKind.Overloaded => ApiErrorKind.Overloaded,
        ErrorKind.Runtime => ApiErrorKind.Runtime,
        ErrorKind.InvalidCheckpoint or ErrorKind.UnsupportedArchitecture or ErrorKind.MissingWeight or ErrorKind.ShapeMismatch
            => ApiErrorKind.ModelError,
        _ => ApiErrorKind.Internal,
    };
}
