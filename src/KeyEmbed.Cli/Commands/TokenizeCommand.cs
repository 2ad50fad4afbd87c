using System.CommandLine;
using System.Text;
using System.Text.Json;
using KeyEmbed.Tokenization;

namespace KeyEmbed.Cli.Commands;

/// <summary>
/// <c>keyembed tokenize</c>: shows how a model's tokenizer cuts text (pieces, ids, token types, offsets; offsets of
/// segment-1 tokens point into the <c>--pair</c> text), or with
/// <c>--input-jsonl</c> tokenizes one <c>{"text", "text_pair"}</c> object a line into the goldens' fields.
/// </summary>
internal static class TokenizeCommand
{
    private static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create(CliContext ctx)
    {
        var model = new Option<string?>("--model") { Description = "Built-in model name (minilm, the default) or a model folder with vocab.txt or spiece.model." };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "A vocab.txt (WordPiece), spiece.model (XLNet SentencePiece) or a folder with one; overrides --model." };
        var lowercase = new Option<bool?>("--lowercase") { Description = "true|false: override lower-casing (default: the model's tokenizer_config.json or folder name)." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var maxLength = new Option<int?>("--max-length") { Description = "Maximum tokens including special tokens (default: the model's; no limit with --input-jsonl)." };
        var inputJsonl = new Option<string?>("--input-jsonl") { Description = "Read one {\"text\": ..., \"text_pair\": ...} object a line; write one {\"tokens\", \"ids\", \"ids_with_special\", \"token_type_ids\"} object a line." };
        var pairText = new Option<string?>("--pair") { Description = "A second text (segment 1) encoded with each TEXT as a pair." };
        var output = new Option<string?>("--output") { Description = "With --input-jsonl: write to this file instead of standard output." };
        var texts = new Argument<string[]>("texts") { Description = "Texts to tokenize.", Arity = ArgumentArity.ZeroOrMore };

        var command = new Command("tokenize", "Show how a model's tokenizer cuts text into pieces (ids, token types, character offsets).");
        foreach (var option in new Option[] { model, tokenizer, lowercase, json, maxLength, pairText, inputJsonl, output }) command.Options.Add(option);
        command.Arguments.Add(texts);
        command.SetAction(parse => CliApp.Guard(ctx, () =>
        {
            string source = parse.GetValue(tokenizer) ?? parse.GetValue(model) ?? Models.BuiltInModels.Default;
            var encoder = TextEncoder.Load(source, parse.GetValue(lowercase));
            int? limit = parse.GetValue(maxLength);
            string? jsonl = parse.GetValue(inputJsonl);
            if (jsonl is not null)
            {
                string? target = parse.GetValue(output);
                if (target is null)
                {
                    WriteJsonl(encoder, jsonl, ctx.Out, limit);
                }
                else
                {
                    using var file = new StreamWriter(target, append: false, new UTF8Encoding(false));
                    WriteJsonl(encoder, jsonl, file, limit);
                }
                return 0;
            }
            var inputs = EmbeddingOptionSet.Texts(parse, texts);
            if (inputs.Length == 0)
                throw KeyEmbedException.Input("give at least one text to tokenize, or --input-jsonl FILE");
            string? pair = parse.GetValue(pairText);
            var encoded = inputs.Select(text => encoder.Encode(text, pair, limit)).ToList();
            if (parse.GetValue(json)) WriteJson(inputs, pair, encoded, ctx.Out);
            else WriteTables(inputs, pair, encoded, ctx.Out);
            return 0;
        }));
        return command;
    }

    /// <summary>The <c>--input-jsonl</c> contract: one object a line with the goldens' fields, in input order.</summary>
    internal static void WriteJsonl(TextEncoder encoder, string inputFile, TextWriter output, int? maxLength)
    {
        if (!File.Exists(inputFile)) throw KeyEmbedException.Input($"--input-jsonl file '{inputFile}' not found");
        int lineNumber = 0;
        foreach (string line in File.ReadLines(inputFile))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var (text, pair) = ParseInputLine(inputFile, lineNumber, line);
            var encoded = encoder.Encode(text, pair, maxLength ?? int.MaxValue);
            var buffer = new MemoryStream();
            using (var writer = new Utf8JsonWriter(buffer, JsonOptions))
            {
                writer.WriteStartObject();
                WriteSide(writer, encoded, 0, "tokens", "ids");
                if (pair is not null) WriteSide(writer, encoded, 1, "tokens_pair", "ids_pair");
                writer.WriteStartArray("ids_with_special");
                foreach (int id in encoded.Ids) writer.WriteNumberValue(id);
                writer.WriteEndArray();
                writer.WriteStartArray("token_type_ids");
                foreach (int type in encoded.TypeIds) writer.WriteNumberValue(type);
                writer.WriteEndArray();
                if (encoded.Truncated) writer.WriteBoolean("truncated", true);
                writer.WriteEndObject();
            }
            output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
        }
    }

    private static (string Text, string? Pair) ParseInputLine(string file, int lineNumber, string line)
    {
        try
        {
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw KeyEmbedException.Input($"{file} line {lineNumber}: expected an object with a string \"text\" (and optionally \"text_pair\")");
            string? pair = null;
            if (root.TryGetProperty("text_pair", out var second) && second.ValueKind != JsonValueKind.Null)
            {
                if (second.ValueKind != JsonValueKind.String)
                    throw KeyEmbedException.Input($"{file} line {lineNumber}: \"text_pair\" must be a string or null");
                pair = ReadString(second);
            }
            return (ReadString(text), pair);
        }
        catch (JsonException e)
        {
            throw KeyEmbedException.Input($"{file} line {lineNumber}: not valid JSON ({e.Message})");
        }
    }

    // Python's json.dumps writes a lone surrogate as "\ud800"; System.Text.Json refuses to read it, so such a
    // string is unescaped here, keeping the surrogate (the tokenizers give it a defined result).
    private static string ReadString(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException)
        {
            string raw = element.GetRawText();
            var builder = new StringBuilder(raw.Length);
            for (int i = 1; i < raw.Length - 1; i++)
            {
                char c = raw[i];
                if (c != '\\') { builder.Append(c); continue; }
                char escape = raw[++i];
                builder.Append(escape switch
                {
                    'b' => '\b', 'f' => '\f', 'n' => '\n', 'r' => '\r', 't' => '\t',
                    'u' => (char)Convert.ToUInt16(raw.Substring(i + 1, 4), 16),
                    _ => escape,
                });
                if (escape == 'u') i += 4;
            }
            return builder.ToString();
        }
    }

    private static void WriteSide(Utf8JsonWriter writer, EncodedText encoded, int sequence, string tokensName, string idsName)
    {
        writer.WriteStartArray(tokensName);
        for (int t = 0; t < encoded.Length; t++)
            if (encoded.SequenceIds[t] == sequence) writer.WriteStringValue(encoded.Tokens[t]);
        writer.WriteEndArray();
        writer.WriteStartArray(idsName);
        for (int t = 0; t < encoded.Length; t++)
            if (encoded.SequenceIds[t] == sequence) writer.WriteNumberValue(encoded.Ids[t]);
        writer.WriteEndArray();
    }

    private static void WriteJson(string[] inputs, string? pair, List<EncodedText> encoded, TextWriter output)
    {
        var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true }))
        {
            writer.WriteStartArray();
            for (int i = 0; i < inputs.Length; i++)
            {
                var item = encoded[i];
                writer.WriteStartObject();
                writer.WriteString("text", inputs[i]);
                if (pair is not null) writer.WriteString("text_pair", pair);
                writer.WriteBoolean("truncated", item.Truncated);
                writer.WriteStartArray("tokens");
                for (int t = 0; t < item.Length; t++)
                {
                    writer.WriteStartObject();
                    writer.WriteString("token", item.Tokens[t]);
                    writer.WriteNumber("id", item.Ids[t]);
                    writer.WriteNumber("type", item.TypeIds[t]);
                    writer.WriteBoolean("special", item.SpecialTokenMask[t]);
                    writer.WriteNumber("start", item.Offsets[t].Start);
                    writer.WriteNumber("length", item.Offsets[t].Length);
                    writer.WriteEndObject();
                }
                writer.WriteEndArray();
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
        }
        output.WriteLine(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length));
    }

    private static void WriteTables(string[] inputs, string? pair, List<EncodedText> encoded, TextWriter output)
    {
        for (int i = 0; i < inputs.Length; i++)
        {
            var item = encoded[i];
            if (i > 0) output.WriteLine();
            output.WriteLine($"text {i + 1}: {item.Length} tokens{(item.Truncated ? " (TRUNCATED to the maximum length)" : "")}");
            var rows = new List<string[]> { new[] { "#", "token", "id", "type", "start", "length", "source" } };
            for (int t = 0; t < item.Length; t++)
            {
                var offset = item.Offsets[t];
                string source = item.SequenceIds[t] == 1 && pair is not null ? pair : inputs[i];
                string sourceText = item.SpecialTokenMask[t] ? "(special)" : Printable(source.Substring(offset.Start, offset.Length));
                rows.Add([t.ToString(), Printable(item.Tokens[t]), item.Ids[t].ToString(), item.TypeIds[t].ToString(),
                    offset.Start.ToString(), offset.Length.ToString(), sourceText]);
            }
            var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
            foreach (var row in rows)
                output.WriteLine(string.Join("  ", row.Select((cell, c) => c is 0 or 2 or 3 or 4 or 5 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
        }
    }

    // Control characters and lone surrogates would garble the table; show them as \uXXXX.
    private static string Printable(string text)
    {
        var builder = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
                continue;
            }
            if (char.IsControl(c) || char.IsSurrogate(c)) builder.Append($"\\u{(int)c:X4}");
            else builder.Append(c);
        }
        return builder.ToString();
    }
}
