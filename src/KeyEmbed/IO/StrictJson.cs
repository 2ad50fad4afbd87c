using System.Text.Json;

namespace KeyEmbed.IO;

/// <summary>
/// JSON files as KeyEmbed reads them (configs, shard indexes, tokenizer settings, a safetensors header): the bytes must
/// be UTF-8 as JSON requires, and every name and string must be text. <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/>
/// lets both through and fails only when such a string is read, with an <see cref="InvalidOperationException"/>: invalid
/// UTF-8 inside a string (found by fuzzing: fuzz/findings/config, sharded-index, safetensors) and an unpaired surrogate
/// escape such as <c>"\uD880"</c> (fuzz/findings/tokenizer-config). Here both are a <see cref="JsonException"/> at parse
/// time, which every reader already turns into a <see cref="KeyEmbedException"/> naming the file.
/// </summary>
internal static class StrictJson
{
    public static JsonDocument Parse(byte[] utf8)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            throw new JsonException("the file is not valid UTF-8 text");
        // Only escaped strings can hide an unpaired surrogate (raw ones are valid UTF-8 by now); malformed JSON throws
        // the same JsonException here that JsonDocument.Parse would.
        var reader = new Utf8JsonReader(utf8);
        while (reader.Read())
        {
            if (reader.TokenType is not (JsonTokenType.PropertyName or JsonTokenType.String) || !reader.ValueIsEscaped) continue;
            try
            {
                reader.GetString();
            }
            catch (InvalidOperationException)
            {
                throw new JsonException($"the {(reader.TokenType == JsonTokenType.PropertyName ? "name" : "string")} at byte {reader.TokenStartIndex} holds an unpaired surrogate escape (a \\uD800-\\uDFFF escape without its pair), which is not text; fix or remove it");
            }
        }
        return JsonDocument.Parse(utf8);
    }
}
