using System.Buffers;
using System.Globalization;
using System.Text;
using KeyEmbed.Architectures;

namespace KeyEmbed.Tokenization;

/// <summary>
/// BERT's tokenizer exactly as Google's <c>tokenization.py</c> (<c>FullTokenizer</c> = <c>BasicTokenizer</c> +
/// <c>WordpieceTokenizer</c>): clean text, split CJK ideographs, Python whitespace split, lower-case and strip accents,
/// split punctuation, then greedy longest-match-first WordPiece. Works on spans; every piece keeps its UTF-16 offsets
/// into the original text.
/// </summary>
internal sealed class BertWordPiece : TextEncoder
{
    /// <summary>Google's <c>max_input_chars_per_word</c>: a longer word (in code points) becomes one [UNK].</summary>
    public const int MaxCharsPerWord = 200;

    private readonly WordPieceVocabulary _vocabulary;
    private readonly int _clsId, _sepId, _padId, _unkId;
    private readonly string _unkToken;

    public BertWordPiece(WordPieceVocabulary vocabulary, bool lowercase, int maxLength)
        : base(maxLength)
    {
        _vocabulary = vocabulary;
        Lowercase = lowercase;
        _clsId = vocabulary.Required("[CLS]");
        _sepId = vocabulary.Required("[SEP]");
        _padId = vocabulary.Required("[PAD]");
        _unkId = vocabulary.Required("[UNK]");
        _unkToken = vocabulary.Token(_unkId);
    }

    /// <summary>Whether text is lower-cased and stripped of accents (<c>do_lower_case</c>).</summary>
    public bool Lowercase { get; }

    /// <inheritdoc />
    public override string Kind => "wordpiece";

    /// <inheritdoc />
    public override PaddingSide PaddingSide => PaddingSide.Right;

    /// <inheritdoc />
    public override int PadId => _padId;

    /// <inheritdoc />
    public override int PadTypeId => 0;

    /// <inheritdoc />
    public override int VocabularySize => _vocabulary.Count;

    /// <inheritdoc />
    public override int? UnknownTokenId => _unkId;

    internal override int SpecialTokenCount(bool pair) => pair ? 3 : 2;

    internal override void Layout(List<TokenPiece> first, List<TokenPiece>? second, SequenceWriter output)
    {
        output.Special(_clsId, _vocabulary.Token(_clsId), 0);
        output.Pieces(first, 0);
        output.Special(_sepId, _vocabulary.Token(_sepId), 0);
        if (second is null) return;
        output.Pieces(second, 1);
        output.Special(_sepId, _vocabulary.Token(_sepId), 1);
    }

    internal override int LayoutIds(List<TokenPiece> pieces, Span<int> ids)
    {
        ids[0] = _clsId;
        for (int i = 0; i < pieces.Count; i++) ids[i + 1] = pieces[i].Id;
        ids[pieces.Count + 1] = _sepId;
        return pieces.Count + 2;
    }

    internal override void Tokenize(string text, List<TokenPiece> output)
    {
        if (text.Length == 0) return;
        if (text.Length <= AsciiFastPathLimit && IsPlainAscii(text))
        {
            TokenizeAscii(text, output);
            return;
        }
        using var scratch = new Scratch(text.Length);
        var span = text.AsSpan();
        int i = 0;
        while (i < span.Length)
        {
            int cp = PythonUnicode.CodePointAt(span, i, out int width);
            // _clean_text drops NUL, U+FFFD and Cc/Cf without breaking the word; whitespace becomes a word break.
            if (cp == 0 || cp == 0xFFFD || PythonUnicode.IsBertControl(cp)) { }
            else if (PythonUnicode.IsBertWhitespace(cp) || PythonUnicode.IsPythonSpace(cp)) FlushWord(scratch, output);
            else if (PythonUnicode.IsCjkIdeograph(cp))
            {
                FlushWord(scratch, output);
                scratch.AddRaw(cp, i, i + width);
                FlushWord(scratch, output);
            }
            else scratch.AddRaw(cp, i, i + width);
            i += width;
        }
        FlushWord(scratch, output);
    }

    // One whitespace-separated token: lower-case + strip accents, then split on punctuation, then WordPiece each part.
    private void FlushWord(Scratch scratch, List<TokenPiece> output)
    {
        int count = scratch.RawCount;
        if (count == 0) return;
        scratch.ClearNormalized();
        var raw = scratch.RawCodePoints;
        if (!Lowercase)
        {
            for (int k = 0; k < count; k++) scratch.AddNormalized(raw[k], scratch.RawStart[k], scratch.RawEnd[k]);
        }
        else if (scratch.RawIsAscii)
        {
            for (int k = 0; k < count; k++)
            {
                int c = raw[k];
                scratch.AddNormalized(c is >= 'A' and <= 'Z' ? c + 32 : c, scratch.RawStart[k], scratch.RawEnd[k]);
            }
        }
        else
        {
            Span<int> lowered = stackalloc int[2];
            Span<char> source = stackalloc char[4];
            Span<char> decomposed = stackalloc char[64];
            var word = raw[..count];
            for (int k = 0; k < count; k++)
            {
                int produced = PythonUnicode.LowerInto(word, k, lowered);
                for (int m = 0; m < produced; m++)
                {
                    int lower = lowered[m];
                    if (lower < 0xC0 || lower is >= 0xD800 and <= 0xDFFF)
                    {
                        scratch.AddNormalized(lower, scratch.RawStart[k], scratch.RawEnd[k]);
                        continue;
                    }
                    // _run_strip_accents: NFD, then drop non-spacing marks (Mn).
                    int length = new Rune(lower).EncodeToUtf16(source);
                    int written = PythonUnicode.NormalizeCodePoint(source[..length], decomposed, NormalizationForm.FormD);
                    for (int d = 0; d < written;)
                    {
                        int part = PythonUnicode.CodePointAt(decomposed[..written], d, out int w);
                        if (PythonUnicode.Category(part) != UnicodeCategory.NonSpacingMark)
                            scratch.AddNormalized(part, scratch.RawStart[k], scratch.RawEnd[k]);
                        d += w;
                    }
                }
            }
        }
        scratch.ClearRaw();

        // _run_split_on_punc: every punctuation character is a word of its own.
        var chars = scratch.Normalized;
        int runStart = 0, index = 0;
        while (index < chars.Length)
        {
            int cp = PythonUnicode.CodePointAt(chars, index, out int width);
            if (PythonUnicode.IsBertPunctuation(cp))
            {
                WordPiece(scratch, runStart, index, output);
                WordPiece(scratch, index, index + width, output);
                runStart = index + width;
            }
            index += width;
        }
        WordPiece(scratch, runStart, chars.Length, output);
    }

    // Greedy longest-match-first over [from, to) of the normalized buffer (Google's WordpieceTokenizer.tokenize).
    private void WordPiece(Scratch scratch, int from, int to, List<TokenPiece> output)
    {
        if (to <= from) return;
        WordPiece(scratch.Normalized[from..to], scratch.NormalizedStart[from..to], scratch.NormalizedEnd[from..to], 0, output);
    }

    /// <summary>
    /// WordPiece of one word. Offsets of character k are <paramref name="starts"/>[k] / <paramref name="ends"/>[k], or
    /// when those are empty (text whose characters map one to one), <paramref name="identityBase"/> + k.
    /// </summary>
    private void WordPiece(ReadOnlySpan<char> word, ReadOnlySpan<int> starts, ReadOnlySpan<int> ends, int identityBase, List<TokenPiece> output)
    {
        bool identity = starts.IsEmpty;
        int wordStart = identity ? identityBase : starts[0];
        int wordEnd = identity ? identityBase + word.Length : ends[word.Length - 1];
        if (CountCodePoints(word) > MaxCharsPerWord)
        {
            output.Add(new TokenPiece(_unkId, _unkToken, wordStart, wordEnd - wordStart));
            return;
        }
        int firstPiece = output.Count;
        int start = 0;
        while (start < word.Length)
        {
            int end = Math.Min(word.Length, start + (start == 0 ? _vocabulary.LongestInitial : _vocabulary.LongestContinuation));
            int id = -1;
            while (end > start)
            {
                var candidate = word[start..end];
                if (start == 0 ? _vocabulary.TryGetInitial(candidate, out id) : _vocabulary.TryGetContinuation(candidate, out id))
                    break;
                id = -1;
                end -= end - start >= 2 && char.IsLowSurrogate(word[end - 1]) && char.IsHighSurrogate(word[end - 2]) ? 2 : 1;
            }
            if (id < 0)
            {
                output.RemoveRange(firstPiece, output.Count - firstPiece);
                output.Add(new TokenPiece(_unkId, _unkToken, wordStart, wordEnd - wordStart));
                return;
            }
            int pieceStart = identity ? identityBase + start : starts[start];
            int pieceEnd = identity ? identityBase + end : ends[end - 1];
            output.Add(new TokenPiece(id, _vocabulary.Token(id), pieceStart, pieceEnd - pieceStart));
            start = end;
        }
    }

    // Texts up to this length that are printable ASCII (plus tab, newline, carriage return) take the fast path:
    // lower-casing keeps every character in place, so offsets are indexes and no offset arrays are needed.
    private const int AsciiFastPathLimit = 4096;

    private static bool IsPlainAscii(string text)
    {
        foreach (char c in text)
            if (c >= 127 || c < 32 && c is not ('\t' or '\n' or '\r')) return false;
        return true;
    }

    private void TokenizeAscii(string text, List<TokenPiece> output)
    {
        Span<char> buffer = text.Length <= 512 ? stackalloc char[text.Length] : new char[text.Length];
        if (Lowercase) System.Text.Ascii.ToLower(text, buffer, out _);
        else text.CopyTo(buffer);
        int i = 0;
        while (i < buffer.Length)
        {
            char c = buffer[i];
            if (PythonUnicode.IsBertWhitespace(c)) { i++; continue; }
            if (PythonUnicode.IsBertPunctuation(c))
            {
                WordPiece(buffer.Slice(i, 1), default, default, i, output);
                i++;
                continue;
            }
            int start = i;
            while (i < buffer.Length && !PythonUnicode.IsBertWhitespace(buffer[i]) && !PythonUnicode.IsBertPunctuation(buffer[i])) i++;
            WordPiece(buffer[start..i], default, default, start, output);
        }
    }

    private static int CountCodePoints(ReadOnlySpan<char> word)
    {
        if (word.Length <= MaxCharsPerWord) return word.Length;
        int count = 0;
        for (int i = 0; i < word.Length; i++)
        {
            if (char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1])) i++;
            count++;
        }
        return count;
    }

    /// <summary>Pooled buffers for one call: the current raw word (code points + source spans) and its normalized form.</summary>
    private sealed class Scratch : IDisposable
    {
        private int[] _raw, _rawStart, _rawEnd;
        private char[] _normalized;
        private int[] _normalizedStart, _normalizedEnd;
        private int _rawCount, _normalizedCount;
        private bool _rawAscii = true;

        public Scratch(int textLength)
        {
            int size = Math.Max(16, Math.Min(textLength, 1024));
            _raw = ArrayPool<int>.Shared.Rent(size);
            _rawStart = ArrayPool<int>.Shared.Rent(size);
            _rawEnd = ArrayPool<int>.Shared.Rent(size);
            _normalized = ArrayPool<char>.Shared.Rent(size * 2);
            _normalizedStart = ArrayPool<int>.Shared.Rent(size * 2);
            _normalizedEnd = ArrayPool<int>.Shared.Rent(size * 2);
        }

        public int RawCount => _rawCount;
        public bool RawIsAscii => _rawAscii;
        public Span<int> RawCodePoints => _raw.AsSpan(0, _rawCount);
        public ReadOnlySpan<int> RawStart => _rawStart;
        public ReadOnlySpan<int> RawEnd => _rawEnd;
        public ReadOnlySpan<char> Normalized => _normalized.AsSpan(0, _normalizedCount);
        public ReadOnlySpan<int> NormalizedStart => _normalizedStart;
        public ReadOnlySpan<int> NormalizedEnd => _normalizedEnd;

        public void AddRaw(int cp, int start, int end)
        {
            if (_rawCount == _raw.Length)
            {
                Grow(ref _raw, _rawCount);
                Grow(ref _rawStart, _rawCount);
                Grow(ref _rawEnd, _rawCount);
            }
            _raw[_rawCount] = cp;
            _rawStart[_rawCount] = start;
            _rawEnd[_rawCount] = end;
            _rawCount++;
            if (cp >= 128) _rawAscii = false;
        }

        public void ClearRaw()
        {
            _rawCount = 0;
            _rawAscii = true;
        }

        public void ClearNormalized() => _normalizedCount = 0;

        public void AddNormalized(int cp, int start, int end)
        {
            if (_normalizedCount + 2 > _normalized.Length)
            {
                Grow(ref _normalized, _normalizedCount);
                Grow(ref _normalizedStart, _normalizedCount);
                Grow(ref _normalizedEnd, _normalizedCount);
            }
            if (cp >= 0x10000)
            {
                int offset = cp - 0x10000;
                Append((char)(0xD800 + (offset >> 10)), start, end);
                Append((char)(0xDC00 + (offset & 0x3FF)), start, end);
            }
            else Append((char)cp, start, end);
        }

        private void Append(char c, int start, int end)
        {
            _normalized[_normalizedCount] = c;
            _normalizedStart[_normalizedCount] = start;
            _normalizedEnd[_normalizedCount] = end;
            _normalizedCount++;
        }

        private static void Grow<T>(ref T[] array, int used)
        {
            var bigger = ArrayPool<T>.Shared.Rent(array.Length * 2);
            Array.Copy(array, bigger, used);
            ArrayPool<T>.Shared.Return(array);
            array = bigger;
        }

        public void Dispose()
        {
            ArrayPool<int>.Shared.Return(_raw);
            ArrayPool<int>.Shared.Return(_rawStart);
            ArrayPool<int>.Shared.Return(_rawEnd);
            ArrayPool<char>.Shared.Return(_normalized);
            ArrayPool<int>.Shared.Return(_normalizedStart);
            ArrayPool<int>.Shared.Return(_normalizedEnd);
        }
    }
}
