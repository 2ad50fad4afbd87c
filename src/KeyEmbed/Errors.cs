namespace KeyEmbed;

/// <summary>The families of failures a user can act on. Bugs stay ordinary exceptions.</summary>
public enum ErrorKind
{
    /// <summary>A checkpoint, config or tokenizer file is unreadable, truncated or malformed.</summary>
    InvalidCheckpoint,
    /// <summary>The files describe a model architecture KeyEmbed does not run.</summary>
    UnsupportedArchitecture,
    /// <summary>A weight the architecture needs is not in the checkpoint.</summary>
    MissingWeight,
    /// <summary>A weight's shape does not match what the config implies.</summary>
    ShapeMismatch,
    /// <summary>An input text, file or option is invalid.</summary>
    InvalidInput,
    /// <summary>The service is at capacity; retry later.</summary>
    Overloaded,
    /// <summary>ONNX Runtime or the operating system failed while running a model.</summary>
    Runtime,
}

/// <summary>
/// The one exception type KeyEmbed throws for a user-facing failure. The message says what was wrong
/// (file, offset, key, option) and what to do about it.
/// </summary>
public sealed class KeyEmbedException : Exception
{
    /// <summary>Creates an exception of the given family.</summary>
    public KeyEmbedException(ErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    /// <summary>Which family of failure this is; the CLI and server map it to exit codes and HTTP statuses.</summary>
    public ErrorKind Kind { get; }

    /// <summary>
    /// The option the failure concerns, as the library names it: the <see cref="Embedding.EmbeddingOptions"/> or
    /// <see cref="Similarity.KeywordOptions"/> property (<c>Layers</c>, <c>Pooling</c>, <c>Top</c>, …); null when the
    /// failure is not about one option. The CLI and the server map it to their own flag or field name.
    /// </summary>
    public string? Option { get; init; }

    internal static KeyEmbedException Checkpoint(string file, string problem, Exception? inner = null) =>
        new(ErrorKind.InvalidCheckpoint, $"{file}: {problem}", inner);

    /// <summary>An <see cref="ErrorKind.InvalidInput"/> failure: <paramref name="problem"/> says what was wrong and what to do.</summary>
    /// <param name="problem">The message.</param>
    /// <param name="option">The option it concerns, as the library names it (see <see cref="Option"/>); null when none.</param>
    public static KeyEmbedException Input(string problem, string? option = null) => new(ErrorKind.InvalidInput, problem) { Option = option };
}
