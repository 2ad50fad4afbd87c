using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using KeyEmbed.Embedding;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// The options <c>similarity</c>, <c>embed</c> and <c>keywords</c> share: which model and how it runs
/// (<see cref="KeyEmbedModelOptions"/>), and what each text becomes (<see cref="EmbeddingOptions"/>). One place, so the
/// three commands spell and check them the same way (docs/embeddings.md lists them).
/// </summary>
internal sealed class EmbeddingOptionSet
{
    private readonly Option<string?> _model = new("--model") { Description = "Built-in model name (minilm, the default), a model folder (BERT or XLNet) or an .onnx file." };
    private readonly Option<string?> _layers = new("--layers") { Description = "Hidden states to use, Python-style, comma-separated: 0 = embedding output, -1 = last layer, -2 = second-to-last (default: the model's; -2 for raw checkpoints, -1 for sentence-transformers models). Write --layers=-2,-1 or --layers -2,-1." };
    private readonly Option<string?> _layerMode = new("--layer-mode") { Description = "How several layers combine: sum (default), mean or concat." };
    private readonly Option<string?> _pooling = new("--pooling") { Description = $"How tokens become one vector: {Embedding.EmbeddingOptions.PoolingNames} (default: the model's, mean)." };
    private readonly Option<bool> _excludeSpecial = new("--exclude-special") { Description = "Leave special tokens ([CLS], [SEP], <sep>, <cls>) out of mean/max pooling and token output." };
    private readonly Option<bool?> _normalize = new("--normalize") { Description = "L2-normalize vectors: --normalize, --normalize true|false (default: the model's; on for the built-in model)." };
    private readonly Option<bool> _noNormalize = new("--no-normalize") { Description = "Do not L2-normalize vectors." };
    private readonly Option<int?> _dimensions = new("--dimensions") { Description = "Keep the first N dimensions (Matryoshka-style; renormalized when normalizing)." };
    private readonly Option<int?> _maxLength = new("--max-length") { Description = "Longest window in tokens, special tokens included (default: the model's maximum). Longer texts are handled as --long-text says." };
    private readonly Option<int?> _threads = new("--threads") { Description = "ONNX Runtime threads (default: the machine's cores)." };
    private readonly Option<string?> _precision = new("--precision") { Description = "Arithmetic of the model's linear layers: float32 (default) or int8 (BERT models: faster, by how much depends on the CPU, see docs/benchmarks.md; every vector at cosine ≥ 0.99 to float32). Not the storage form of the output (that is --quantize)." };
    private readonly Option<string?> _longText = new("--long-text") { Description = "A text longer than the model's window: windows (default; BERT averages the windows' vectors, XLNet runs them as segments with memory), truncate (only the first window counts) or error (refuse it). The server's default and its long_text field mean the same." };
    private readonly Option<bool?> _lowercase = new("--lowercase") { Description = "true|false: override the tokenizer's lower-casing (default: the model's files)." };

    /// <summary>Adds every shared option to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _model, _layers, _layerMode, _pooling, _excludeSpecial, _normalize, _noNormalize, _dimensions, _maxLength, _longText, _threads, _precision, _lowercase })
            command.Options.Add(option);
    }

    /// <summary>The model argument (null = the built-in default).</summary>
    public string? Model(ParseResult parse) => parse.GetValue(_model);

    /// <summary>How the model is loaded and run.</summary>
    public KeyEmbedModelOptions ModelOptions(ParseResult parse)
    {
        int threads = parse.GetValue(_threads) ?? 0;
        if (threads < 0) throw KeyEmbedException.Input($"--threads must be 0 (all cores) or more (got {threads})");
        int? maxLength = parse.GetValue(_maxLength);
        // Two special tokens plus at least one piece of text.
        if (maxLength is < 3) throw KeyEmbedException.Input($"--max-length must be at least 3 tokens (got {maxLength})");
        var precision = ParseComputePrecision(parse.GetValue(_precision) ?? "float32");
        return new KeyEmbedModelOptions { Threads = threads, MaxSequenceLength = maxLength, Lowercase = parse.GetValue(_lowercase), ComputePrecision = precision };
    }

    /// <summary>Reads <c>--precision</c>: the arithmetic of the encoder's linear layers (also used by <c>serve</c>).</summary>
    public static Architectures.ComputePrecision ParseComputePrecision(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" => Architectures.ComputePrecision.Float32,
        "int8" => Architectures.ComputePrecision.Int8,
        var other => throw KeyEmbedException.Input($"--precision must be float32 or int8 (got '{other}')"),
    };

    /// <summary>
    /// Loads the model the options name, tokenizer included, so a model the command cannot use fails here, before
    /// anything is written.
    /// </summary>
    public KeyEmbedModel Load(ParseResult parse) => LoadUsable(Model(parse), ModelOptions(parse));

    /// <summary>Loads a model and its tokenizer (which the library loads on first use) now; see <see cref="Load"/>.</summary>
    public static KeyEmbedModel LoadUsable(string? model, KeyEmbedModelOptions options)
    {
        var loaded = KeyEmbedModel.Load(model, options);
        try
        {
            _ = loaded.Tokenizer;
            return loaded;
        }
        catch
        {
            loaded.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What each text becomes. Names are checked here (a wrong name lists the valid ones); ranges that depend on the
    /// model (layers, dimensions) are checked by <see cref="KeyEmbedModel.Resolve"/>.
    /// </summary>
    public Embedding.EmbeddingOptions EmbeddingOptions(ParseResult parse, VectorPrecision precision = VectorPrecision.Float32)
    {
        bool? normalize = parse.GetValue(_normalize);
        if (parse.GetValue(_noNormalize))
        {
            if (normalize == true) throw KeyEmbedException.Input("--normalize and --no-normalize contradict each other; give one");
            normalize = false;
        }
        if (parse.GetValue(_dimensions) is < 1 and var d)
            throw KeyEmbedException.Input($"--dimensions must be at least 1 (got {d})");
        var poolingMode = parse.GetValue(_pooling) is { } pooling ? Named("--pooling", () => Embedding.EmbeddingOptions.ParsePooling(pooling)) : (PoolingMode?)null;
        if (parse.GetValue(_excludeSpecial) && poolingMode is PoolingMode.First or PoolingMode.LastReal or PoolingMode.Cls)
            throw KeyEmbedException.Input($"--exclude-special cannot be combined with --pooling {parse.GetValue(_pooling)!.Trim()}, which reads one special token by design; use --pooling mean, max or mean-max");
        return new Embedding.EmbeddingOptions
        {
            Layers = parse.GetValue(_layers) is { } layers ? Named("--layers", () => Embedding.EmbeddingOptions.ParseLayers(layers)) : null,
            LayerMode = parse.GetValue(_layerMode) is { } mode ? Named("--layer-mode", () => Embedding.EmbeddingOptions.ParseLayerMode(mode)) : LayerMode.Sum,
            Pooling = poolingMode,
            ExcludeSpecialTokens = parse.GetValue(_excludeSpecial),
            Normalize = normalize,
            Dimensions = parse.GetValue(_dimensions),
            Precision = precision,
            LongText = parse.GetValue(_longText) is { } longText ? Named("--long-text", () => Embedding.EmbeddingOptions.ParseLongText(longText)) : LongTextMode.Windows,
        };
    }

    /// <summary>Resolves the options against the loaded model, naming the CLI option when a value is out of range.</summary>
    public static ResolvedEmbeddingOptions Resolve(KeyEmbedModel model, Embedding.EmbeddingOptions options)
    {
        try { return model.Resolve(options); }
        catch (KeyEmbedException e) when (e.Kind == ErrorKind.InvalidInput)
        {
            throw KeyEmbedException.Input(WithOptionName(e.Message));
        }
    }

    /// <summary>
    /// Texts that look like options (<c>--bogus</c>) are almost always a typo: they are an error unless they come after
    /// <c>--</c>, which marks the rest of the line as texts.
    /// </summary>
    public static string[] Texts(ParseResult parse, Argument<string[]> texts)
    {
        bool afterDoubleDash = false;
        foreach (var token in parse.Tokens)
        {
            if (token.Type == TokenType.DoubleDash) afterDoubleDash = true;
            else if (!afterDoubleDash && token.Type == TokenType.Argument && token.Value.StartsWith("--", StringComparison.Ordinal) && token.Value.Length > 2)
                throw new UsageException($"unknown option '{token.Value}' (see --help); to use it as a text, put it after --");
        }
        return parse.GetValue(texts) ?? [];
    }

    /// <summary>
    /// Warns once on stderr when texts are mostly unknown to the model's vocabulary (<see cref="Tokenization.UnknownTokens"/>);
    /// the vectors are unchanged.
    /// </summary>
    public static void WarnUnknownTokens(CliContext context, KeyEmbedModel model, IEnumerable<string> texts)
    {
        var unknown = new Tokenization.UnknownTokens();
        unknown.Observe(model.Tokenizer, texts);
        WarnUnknownTokens(context, unknown);
    }

    /// <summary>Writes the warning of <paramref name="unknown"/>, if any: <c>warning: ...</c>, one line.</summary>
    public static void WarnUnknownTokens(CliContext context, Tokenization.UnknownTokens unknown)
    {
        if (unknown.Message() is { } message) context.Error.WriteLine($"warning: {message}");
    }

    /// <summary>The name that stands for standard input in <c>--input</c> and <c>--candidates</c>.</summary>
    public const string StandardInput = "-";

    /// <summary>
    /// Reads a text file as one text a line (UTF-8), empty lines kept so rows align with lines; <c>-</c> reads standard
    /// input instead, whole, before any model work (its lines are small beside their vectors, and the count drives
    /// the progress report). A file is streamed and may be enumerated again (counting reads it twice).
    /// </summary>
    public static IEnumerable<string> ReadLines(CliContext context, string path, string option)
    {
        if (path == StandardInput)
        {
            var lines = new List<string>();
            while (context.In.ReadLine() is { } line)
            {
                if (line.Contains('\0')) throw NotText(option);
                lines.Add(line);
            }
            return lines;
        }
        if (!File.Exists(path)) throw KeyEmbedException.Input($"{option}: file '{path}' not found (give - to read standard input)");
        CheckText(path, option);
        return File.ReadLines(path);
    }

    /// <summary>How much of a file <see cref="CheckText"/> looks at.</summary>
    internal const int TextSniffBytes = 64 * 1024;

    /// <summary>
    /// Refuses a file that is not UTF-8 text, judged by its content (its first 64 KiB), not its name: a NUL byte
    /// (executables, .npy, images, UTF-16) or a byte sequence that is not UTF-8.
    /// </summary>
    public static void CheckText(string path, string option)
    {
        var head = new byte[TextSniffBytes];
        int length;
        try
        {
            using var file = File.OpenRead(path);
            length = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw KeyEmbedException.Input($"{option}: cannot read '{path}': {e.Message}");
        }
        var bytes = head.AsSpan(0, length);
        string problem = bytes.IndexOf((byte)0) is var nul and >= 0 ? $"a NUL byte at offset {nul}"
            : InvalidUtf8Offset(bytes, isFinalBlock: length < head.Length) is { } bad ? $"bytes that are not UTF-8 at offset {bad}"
            : "";
        if (problem.Length > 0)
            throw KeyEmbedException.Input($"{option}: '{path}' is not a UTF-8 text file ({problem}); give text, one text a line");
    }

    private static KeyEmbedException NotText(string option) =>
        KeyEmbedException.Input($"{option}: standard input is not text (it holds NUL characters); give text, one text a line");

    private static long? InvalidUtf8Offset(ReadOnlySpan<byte> bytes, bool isFinalBlock)
    {
        var chars = new char[bytes.Length];
        var status = System.Text.Unicode.Utf8.ToUtf16(bytes, chars, out int read, out _, replaceInvalidSequences: false, isFinalBlock);
        return status == System.Buffers.OperationStatus.InvalidData ? read : null;
    }

    /// <summary>
    /// What <c>--doc</c> names: the text read from a file or standard input, or the value itself when it is a text. A
    /// value that looks like a file name (one word with a path separator or an extension) but names no file is an error,
    /// not a one-word document.
    /// </summary>
    public static string ReadDocument(CliContext context, string value, string option)
    {
        if (value == StandardInput)
        {
            string text = context.In.ReadToEnd();
            return text.Contains('\0') ? throw NotText(option) : text;
        }
        if (File.Exists(value))
        {
            CheckText(value, option);
            return File.ReadAllText(value);
        }
        if (Directory.Exists(value)) throw KeyEmbedException.Input($"{option}: '{value}' is a folder; give a text file, - for standard input, or the text itself");
        bool oneWord = !value.Any(char.IsWhiteSpace);
        if (oneWord && (value.Contains('/') || value.Contains('\\') || System.Text.RegularExpressions.Regex.IsMatch(value, @"\.[A-Za-z][A-Za-z0-9]{0,4}$")))
            throw KeyEmbedException.Input($"{option}: file '{value}' not found (give a text file, - for standard input, or the text itself)");
        return value;
    }

    /// <summary>Parses an n-gram range such as <c>1,2</c>, <c>1-3</c> or <c>2</c> (= 2,2).</summary>
    public static (int Min, int Max) ParseRange(string text, string option)
    {
        var parts = text.Split([',', '-', ':'], StringSplitOptions.TrimEntries);
        if (parts.Length is 1 or 2 && parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
        {
            int min = int.Parse(parts[0], CultureInfo.InvariantCulture);
            return (min, parts.Length == 2 ? int.Parse(parts[1], CultureInfo.InvariantCulture) : min);
        }
        throw KeyEmbedException.Input($"{option}: '{text}' is not a range; give MIN,MAX such as 1,2 (or one number)");
    }

    // The library's messages name the option by its property ("layers:", "pooling:"); the CLI user typed --layers.
    private static T Named<T>(string option, Func<T> parse)
    {
        try { return parse(); }
        catch (KeyEmbedException e) when (e.Kind == ErrorKind.InvalidInput)
        {
            throw KeyEmbedException.Input(WithOptionName(e.Message, option));
        }
    }

    private static string WithOptionName(string message, string? option = null)
    {
        foreach (var (prefix, name) in new[] { ("layers: ", "--layers"), ("pooling: ", "--pooling"), ("layer-mode: ", "--layer-mode"), ("dimensions ", "--dimensions "), ("exclude-special-tokens ", "--exclude-special ") })
            if (message.StartsWith(prefix, StringComparison.Ordinal))
                return name.EndsWith(' ') ? name + message[prefix.Length..] : $"{name}: {message[prefix.Length..]}";
        if (option is not null && !message.StartsWith(option, StringComparison.Ordinal)) return $"{option}: {message}";
        return message.StartsWith("layer ", StringComparison.Ordinal) || message.StartsWith("layers ", StringComparison.Ordinal)
            ? $"--layers: {message}" : message;
    }
}
