using System.CommandLine;
using System.Text;
using System.Text.Json;
using KeyEmbed.Embedding;
using KeyEmbed.IO;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed embed [options] [--input FILE] [--output FILE] TEXT...</c>: one vector per text, written as JSON, CSV or
/// <c>.npy</c> row by row. Texts are the arguments, then the input file's lines (empty lines included, so row i is
/// line i). Input is read and embedded in chunks of <see cref="ChunkSize"/> texts and each chunk's rows are written
/// before the next is read, so a large file is never held whole. <c>--pooling none</c> writes token-level JSON.
/// </summary>
internal static class EmbedCommand
{
    /// <summary>Texts read and embedded together; progress is reported after each chunk.</summary>
    internal const int ChunkSize = 4096;

    public static Command Create(CliContext ctx)
    {
        var shared = new EmbeddingOptionSet();
        var format = new Option<string>("--format") { Description = "json (default), csv or npy (npy needs --output).", DefaultValueFactory = _ => "json" };
        var output = new Option<string?>("--output") { Description = "File to write (default: standard output). int8 npy also writes FILE's scales to <FILE without .npy>.scales.npy." };
        var input = new Option<string?>("--input") { Description = "A UTF-8 file of one text a line, embedded after the TEXT arguments; - reads standard input. Empty lines are embedded too, so output row i is input line i." };
        var quantize = new Option<string>("--quantize") { Description = "Storage form of the vectors: float32 (default), int8 (with a scale per row) or binary (sign bits packed 8 to a byte).", DefaultValueFactory = _ => "float32" };
        var shard = new Option<string?>("--shard") { Description = "I/N: embed only shard I (0-based) of N, the texts whose position k (arguments, then input lines) has k % N == I; row j is text I + j*N. N processes with I = 0..N-1 cover the input once." };
        var texts = new Argument<string[]>("texts") { Description = "Texts to embed.", Arity = ArgumentArity.ZeroOrMore };

        var command = new Command("embed", "Embed texts (arguments or a file of one text a line) and write the vectors as JSON, CSV or .npy.");
        shared.AddTo(command);
        foreach (var option in new Option[] { format, output, input, quantize, shard }) command.Options.Add(option);
        command.Arguments.Add(texts);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            var fileFormat = VectorWriters.ParseFormat(parse.GetValue(format)!);
            var precision = Named("--quantize", () => EmbeddingOptions.ParsePrecision(parse.GetValue(quantize)!));
            string? outputPath = parse.GetValue(output);
            if (fileFormat == VectorFileFormat.Npy && outputPath is null)
                throw KeyEmbedException.Input("--format npy writes binary data: give --output FILE.npy");
            var options = shared.EmbeddingOptions(parse, precision);
            var arguments = EmbeddingOptionSet.Texts(parse, texts);
            string? inputPath = parse.GetValue(input);
            var lines = inputPath is null ? [] : EmbeddingOptionSet.ReadLines(ctx, inputPath, "--input");
            var (shardIndex, shardCount) = parse.GetValue(shard) is { } s ? Stores.VectorStores.ParseShard(s, "--shard") : (0, 1);
            // By position, not by content: each shard's rows keep the input's order, and row j of shard I is text I + j*N.
            IEnumerable<string> all = arguments.Concat(lines);
            if (shardCount > 1) all = all.Where((_, k) => k % shardCount == shardIndex);

            using var model = shared.Load(parse);
            var plan = EmbeddingOptionSet.Resolve(model, options);
            if (plan.Pooling == PoolingMode.None)
            {
                if (fileFormat != VectorFileFormat.Json) throw KeyEmbedException.Input("--pooling none writes token-level JSON; use --format json");
                if (precision != VectorPrecision.Float32) throw KeyEmbedException.Input("--pooling none writes float32 token vectors; leave out --quantize");
                var tokenUnknown = new Tokenization.UnknownTokens();
                WithOutput(ctx, outputPath, (stream, release) => WriteTokens(stream, model, options, all.Select(t =>
                {
                    tokenUnknown.Observe(model.Tokenizer, [t]);
                    return t;
                }), release));
                EmbeddingOptionSet.WarnUnknownTokens(ctx, tokenUnknown);
                return 0;
            }

            long inputCount = arguments.Length + lines.LongCount();
            long total = shardCount == 1 ? inputCount : Math.Max(0, (inputCount - shardIndex + shardCount - 1) / shardCount);
            var metadata = Metadata(model, plan);
            int width = precision == VectorPrecision.Binary ? (plan.Dimensions + 7) / 8 : plan.Dimensions;
            long windowed = 0;
            var unknown = new Tokenization.UnknownTokens();
            IReadOnlyList<float>? scales = null;
            WithOutput(ctx, outputPath, (stream, release) =>
            {
                using var writer = VectorWriters.Create(fileFormat, stream, width, precision, metadata, leaveOpen: true);
                void EmbedAll(Action<long>? report, bool withinChunks)
                {
                    long done = 0;
                    foreach (var chunk in all.Chunk(ChunkSize))
                    {
                        long before = done;
                        var result = model.Embed(chunk, options, report is not null && withinChunks ? new CallerThreadProgress(n => report(before + n)) : null);
                        windowed += result.WindowedCount;
                        unknown.Observe(model.Tokenizer, chunk);
                        for (int i = 0; i < chunk.Length; i++) Write(writer, chunk[i], result.Vectors[i], precision);
                        release();
                        done += chunk.Length;
                        report?.Invoke(done);
                    }
                }
                // Progress only for inputs long enough to wait for: a bar moves within chunks, plain lines come per chunk.
                if (total > ChunkSize)
                {
                    var progress = new ProgressReport(ctx.Error, total);
                    progress.Run(report => EmbedAll(report, progress.Interactive));
                }
                else EmbedAll(null, false);
                if (writer is NpyVectorWriter npy && precision == VectorPrecision.Int8) scales = [.. npy.Scales];
            });
            if (scales is not null && outputPath is not null)
            {
                string scalesPath = ScalesPath(outputPath);
                AtomicFile.Write(scalesPath, stream => NpyFile.WriteVector(stream, [.. scales]), $"--output: cannot write the int8 scales '{scalesPath}'");
                ctx.Error.WriteLine($"int8 scales: {scalesPath}");
            }
            SimilarityCommand.NoteWindows(ctx, windowed, model);
            EmbeddingOptionSet.WarnUnknownTokens(ctx, unknown);
            if (outputPath is not null) ctx.Error.WriteLine($"wrote {total} vectors of {plan.Dimensions} dimensions to {outputPath}");
            return 0;
        }));
        return command;
    }

    /// <summary>The companion file of an int8 <c>.npy</c>: its per-row scales.</summary>
    internal static string ScalesPath(string npyPath) =>
        (npyPath.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) ? npyPath[..^4] : npyPath) + ".scales.npy";

    private static void Write(IVectorWriter writer, string text, float[] vector, VectorPrecision precision)
    {
        switch (precision)
        {
            case VectorPrecision.Int8: writer.Write(text, Quantization.ToInt8(vector)); break;
            case VectorPrecision.Binary: writer.Write(text, (ReadOnlySpan<byte>)Quantization.ToBinary(vector)); break;
            default: writer.Write(text, (ReadOnlySpan<float>)vector); break;
        }
    }

    private static List<KeyValuePair<string, object?>> Metadata(KeyEmbedModel model, ResolvedEmbeddingOptions plan) =>
    [
        new("model", model.Info.Name),
        new("hidden_states", plan.Layers.ToArray()),
        new("layer_mode", plan.LayerMode.ToString().ToLowerInvariant()),
        new("pooling", EmbeddingOptions.FormatPooling(plan.Pooling)),
        new("exclude_special", plan.ExcludeSpecialTokens),
        new("normalize", plan.Normalize),
        new("dimensions", plan.Dimensions),
        new("precision", model.ComputePrecision.ToString().ToLowerInvariant()),
        new("quantize", plan.Precision.ToString().ToLowerInvariant()),
    ];

    // A file is written whole or not at all (AtomicFile: a temporary file renamed over the target when complete). Standard output cannot be taken
    // back, so nothing reaches it before the first chunk of rows is done (`release`): a model or input that fails at
    // once leaves it empty, not `{"data": [` and a closing bracket.
    private static void WithOutput(CliContext ctx, string? path, Action<Stream, Action> write)
    {
        if (path is null)
        {
            using var stdout = new TextWriterStream(ctx.Out);
            var held = new HeldStream(stdout);
            write(held, held.Release);
            held.Release();
            stdout.Flush();
            return;
        }
        AtomicFile.Write(path, stream => write(stream, () => { }), $"--output: cannot write '{path}'");
    }

    private static void WriteTokens(Stream stream, KeyEmbedModel model, EmbeddingOptions options, IEnumerable<string> texts, Action release)
    {
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartObject();
        json.WriteString("model", model.Info.Name);
        json.WriteString("pooling", "none");
        json.WriteStartArray("data");
        int index = 0;
        foreach (var text in texts)
        {
            var tokens = model.EmbedTokens(text, options);
            json.WriteStartObject();
            json.WriteNumber("index", index++);
            json.WriteString("text", text);
            json.WriteBoolean("truncated", tokens.Truncated);
            json.WriteStartArray("tokens");
            foreach (var token in tokens.Tokens)
            {
                json.WriteStartObject();
                json.WriteString("token", token.Token);
                json.WriteNumber("id", token.Id);
                json.WriteNumber("start", token.Start);
                json.WriteNumber("length", token.Length);
                json.WriteBoolean("special", token.Special);
                json.WriteStartArray("embedding");
                foreach (float x in token.Vector) json.WriteNumberValue(x);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            release();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.Flush();
        stream.Write("\n"u8);
    }

    private static T Named<T>(string option, Func<T> parse)
    {
        try { return parse(); }
        catch (KeyEmbedException e) when (e.Kind == ErrorKind.InvalidInput && e.Option == nameof(EmbeddingOptions.Precision) && e.Message.StartsWith("precision: ", StringComparison.Ordinal))
        {
            throw KeyEmbedException.Input($"{option}: {e.Message["precision: ".Length..]}");
        }
    }
}
