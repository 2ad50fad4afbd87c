using System.Text.Json;

namespace KeyEmbed.Stores;

/// <summary>How a corpus file is laid out.</summary>
public enum CorpusFormat
{
    /// <summary>One text a line; blank lines are skipped; each text's id is its content hash.</summary>
    Lines,
    /// <summary>JSON Lines: one object a line with <c>text</c> (string), optional <c>id</c> (string or number; default: the content hash) and any other fields kept as metadata.</summary>
    JsonLines,
}

/// <summary>
/// Reads a corpus as a stream of <see cref="StoreItem"/>s, one line at a time (a large file is never held whole).
/// A malformed JSON Lines row is an input error naming the source and the line.
/// </summary>
public static class CorpusReader
{
    /// <summary>The format a file name implies: <c>.jsonl</c> / <c>.ndjson</c> are JSON Lines, anything else one text a line.</summary>
    public static CorpusFormat FormatOf(string path) =>
        path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".ndjson", StringComparison.OrdinalIgnoreCase)
            ? CorpusFormat.JsonLines : CorpusFormat.Lines;

    /// <summary>Parses <c>lines</c> / <c>jsonl</c> (and <c>auto</c> = by file name).</summary>
    public static CorpusFormat ParseFormat(string text, string path) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => FormatOf(path),
        "lines" or "text" or "txt" => CorpusFormat.Lines,
        "jsonl" or "json-lines" or "ndjson" => CorpusFormat.JsonLines,
        var other => throw KeyEmbedException.Input($"input format: '{other}' is not one of auto, lines, jsonl"),
    };

    /// <summary>The items of <paramref name="lines"/>; <paramref name="source"/> names the file in errors.</summary>
    /// <param name="lines">The lines.</param>
    /// <param name="format">Their layout.</param>
    /// <param name="source">The file (or "standard input") named in errors.</param>
    /// <param name="firstLine">The line number of the first of <paramref name="lines"/> (1 unless reading from the middle).</param>
    public static IEnumerable<StoreItem> Read(IEnumerable<string> lines, CorpusFormat format, string source, long firstLine = 1)
    {
        long number = firstLine - 1;
        foreach (var line in lines)
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            yield return format == CorpusFormat.Lines ? new StoreItem(VectorStores.ContentId(line), line) : ParseRow(line, source, number);
        }
    }

    /// <summary>One JSON Lines row as an item.</summary>
    public static StoreItem ParseRow(string line, string source, long number)
    {
        JsonDocument document;
        // StrictJson: an unpaired surrogate escape ("\uD800") is refused here, naming the line, not when a string is read.
        try { document = IO.StrictJson.Parse(System.Text.Encoding.UTF8.GetBytes(line)); }
        catch (JsonException e)
        {
            throw KeyEmbedException.Input($"{source} line {number}: not valid JSON ({e.Message.Split(" Path:")[0].TrimEnd('.')}); each line must be an object with a \"text\" string");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw KeyEmbedException.Input($"{source} line {number}: a JSON {root.ValueKind.ToString().ToLowerInvariant()}, not an object; each line must be an object with a \"text\" string");
            if (!root.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw KeyEmbedException.Input($"{source} line {number}: no \"text\" string; each line must be an object with a \"text\" string");
            string value = text.GetString()!;
            string? id = null;
            if (root.TryGetProperty("id", out var given))
            {
                id = given.ValueKind switch
                {
                    JsonValueKind.String => given.GetString(),
                    JsonValueKind.Number => given.GetRawText(),
                    _ => throw KeyEmbedException.Input($"{source} line {number}: \"id\" must be a string or a number"),
                };
                if (string.IsNullOrEmpty(id)) throw KeyEmbedException.Input($"{source} line {number}: \"id\" is empty");
            }
            string? metadata = null;
            var extra = root.EnumerateObject().Where(p => p.Name is not ("id" or "text")).ToList();
            if (extra.Count > 0)
            {
                using var buffer = new MemoryStream();
                using (var writer = new Utf8JsonWriter(buffer))
                {
                    writer.WriteStartObject();
                    foreach (var property in extra) property.WriteTo(writer);
                    writer.WriteEndObject();
                }
                metadata = System.Text.Encoding.UTF8.GetString(buffer.ToArray());
            }
            return new StoreItem(id ?? VectorStores.ContentId(value), value, metadata);
        }
    }
}
