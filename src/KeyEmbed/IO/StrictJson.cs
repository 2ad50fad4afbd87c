using System.Text.Json;

namespace KeyEmbed.IO;

/// <summary>
/// JSON files as KeyEmbed reads them (configs, shard indexes, tokenizer settings, a safetensors header): the bytes must
/// be UTF-8 as JSON requires. <see cref="JsonDocument.Parse(ReadOnlyMemory{byte}, JsonDocumentOptions)"/> lets invalid
/// UTF-8 through inside strings and fails only when a string is read, with an <see cref="InvalidOperationException"/>
/// (found by fuzzing: fuzz/findings/config, sharded-index, safetensors); here it is a <see cref="JsonException"/> at
/// parse time, which every reader already turns into a <see cref="KeyEmbedException"/> naming the file.
/// </summary>
internal static class StrictJson
{
    public static JsonDocument Parse(byte[] utf8)
    {
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
            throw new JsonException("the file is not valid UTF-8 text");
        return JsonDocument.Parse(utf8);
    }
}
