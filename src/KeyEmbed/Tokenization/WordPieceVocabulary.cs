using System.Text;

namespace KeyEmbed.Tokenization;

/// <summary>
/// A BERT <c>vocab.txt</c>: one token a line, the id is the line number (Google's <c>load_vocab</c>: each line is
/// stripped of surrounding whitespace, so CRLF files read the same; a repeated token keeps its last id).
/// Word-initial pieces and <c>##</c> continuations live in two tables looked up by span, without allocating.
/// </summary>
internal sealed class WordPieceVocabulary
{
    private readonly Dictionary<string, int> _initial = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _continuation = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _initialLookup;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _continuationLookup;
    private readonly string[] _tokens;

    public const string ContinuationPrefix = "##";

    private WordPieceVocabulary(List<string> lines, string source)
    {
        Source = source;
        _tokens = lines.ToArray();
        for (int id = 0; id < lines.Count; id++)
        {
            string token = lines[id];
            _initial[token] = id;
            if (token.StartsWith(ContinuationPrefix, StringComparison.Ordinal))
                _continuation[token[ContinuationPrefix.Length..]] = id;
        }
        foreach (var key in _initial.Keys) LongestInitial = Math.Max(LongestInitial, key.Length);
        foreach (var key in _continuation.Keys) LongestContinuation = Math.Max(LongestContinuation, key.Length);
        _initialLookup = _initial.GetAlternateLookup<ReadOnlySpan<char>>();
        _continuationLookup = _continuation.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Where the vocabulary came from, for error messages.</summary>
    public string Source { get; }

    /// <summary>Number of lines (ids).</summary>
    public int Count => _tokens.Length;

    /// <summary>Longest word-initial entry, in UTF-16 units.</summary>
    public int LongestInitial { get; }

    /// <summary>Longest continuation entry without its <c>##</c>, in UTF-16 units.</summary>
    public int LongestContinuation { get; }

    public string Token(int id) => _tokens[id];

    public bool TryGetInitial(ReadOnlySpan<char> piece, out int id) => _initialLookup.TryGetValue(piece, out id);

    public bool TryGetContinuation(ReadOnlySpan<char> piece, out int id) => _continuationLookup.TryGetValue(piece, out id);

    /// <summary>The id of a special token, or a clear error naming the file when it is missing.</summary>
    public int Required(string token) =>
        _initial.TryGetValue(token, out int id)
            ? id
            : throw KeyEmbedException.Checkpoint(Source, $"the vocabulary has no '{token}' entry; a BERT vocab.txt needs [CLS], [SEP], [PAD] and [UNK]");

    public static WordPieceVocabulary Parse(byte[] utf8, string source)
    {
        string text;
        try
        {
            text = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true).GetString(utf8);
        }
        catch (DecoderFallbackException e)
        {
            throw KeyEmbedException.Checkpoint(source, $"not UTF-8 text (invalid byte at offset {e.Index}); a vocab.txt has one token a line");
        }
        if (text.Length > 0 && text[0] == '\uFEFF') text = text[1..];
        var lines = new List<string>();
        int start = 0;
        while (start < text.Length)
        {
            int newline = text.IndexOf('\n', start);
            int end = newline < 0 ? text.Length : newline;
            lines.Add(StripPython(text.AsSpan(start, end - start)));
            start = end + 1;
        }
        if (lines.Count == 0)
            throw KeyEmbedException.Checkpoint(source, "the vocabulary is empty; a vocab.txt has one token a line");
        return new WordPieceVocabulary(lines, source);
    }

    // Python's str.strip(): removes the characters str.split() splits at.
    private static string StripPython(ReadOnlySpan<char> line)
    {
        int start = 0, end = line.Length;
        while (start < end && PythonUnicode.IsPythonSpace(line[start])) start++;
        while (end > start && PythonUnicode.IsPythonSpace(line[end - 1])) end--;
        return line[start..end].ToString();
    }
}
