using System.Globalization;
using System.Text;
using System.Text.Json;
using KeyEmbed.Embedding;

namespace KeyEmbed.Similarity;

/// <summary>Machine-readable forms of a <see cref="SimilarityMatrix"/>: the JSON shape the CLI promises, and CSV.</summary>
internal static class SimilarityOutput
{
    /// <summary>
    /// <c>{"texts": [...], "matrix": [[...]], "to_set": [...], "mean_pairwise": [...]}</c>: <c>matrix[i][j]</c> = cosine
    /// of texts i and j, <c>to_set[i]</c> = cosine of text i to the set's mean vector.
    /// </summary>
    public static void WriteJson(Stream stream, IReadOnlyList<string> texts, SimilarityMatrix similarity, bool indented = false)
    {
        if (texts.Count != similarity.Count) throw new ArgumentException($"{texts.Count} texts for a {similarity.Count}-item matrix", nameof(texts));
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented });
        json.WriteStartObject();
        json.WriteStartArray("texts");
        foreach (var t in texts) json.WriteStringValue(t);
        json.WriteEndArray();
        json.WriteStartArray("matrix");
        foreach (var row in similarity.Matrix)
        {
            json.WriteStartArray();
            foreach (float x in row) json.WriteNumberValue(x);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        WriteArray(json, "to_set", similarity.ToSet);
        WriteArray(json, "mean_pairwise", similarity.MeanPairwise);
        json.WriteEndObject();
        json.Flush();
    }

    /// <summary>A square CSV: header <c>text,&lt;text 0&gt;,…,to_set,mean_pairwise</c>, one row per text.</summary>
    public static void WriteCsv(TextWriter writer, IReadOnlyList<string> texts, SimilarityMatrix similarity)
    {
        if (texts.Count != similarity.Count) throw new ArgumentException($"{texts.Count} texts for a {similarity.Count}-item matrix", nameof(texts));
        var line = new StringBuilder("text");
        foreach (var t in texts) line.Append(',').Append(CsvVectorWriter.Field(t));
        writer.Write(line.Append(",to_set,mean_pairwise\n"));
        for (int i = 0; i < texts.Count; i++)
        {
            line.Clear().Append(CsvVectorWriter.Field(texts[i]));
            foreach (float x in similarity.Matrix[i]) line.Append(',').Append(x.ToString(CultureInfo.InvariantCulture));
            line.Append(',').Append(similarity.ToSet[i].ToString(CultureInfo.InvariantCulture));
            line.Append(',').Append(similarity.MeanPairwise[i].ToString(CultureInfo.InvariantCulture)).Append('\n');
            writer.Write(line);
        }
    }

    private static void WriteArray(Utf8JsonWriter json, string name, float[] values)
    {
        json.WriteStartArray(name);
        foreach (float x in values) json.WriteNumberValue(x);
        json.WriteEndArray();
    }
}
