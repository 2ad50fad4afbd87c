using System.Text;

namespace KeyEmbed.Tokenization;

/// <summary>
/// SentencePiece's unigram segmentation of already normalized text, reproducing sentencepiece's optimized Viterbi
/// (<c>unigram_model.cc</c>, <c>Model::EncodeOptimized</c>) including its arithmetic and tie-breaking: scores are float
/// pieces added as double and stored as float, a later start replaces a path only when strictly better, an unknown
/// character costs the lowest piece score minus 10, and a run of unknown pieces is merged into one
/// (<c>sentencepiece_processor.cc</c>). Microsoft.ML.Tokenizers' own segmentation breaks ties differently.
/// </summary>
internal sealed class SentencePieceUnigram
{
    private const float UnknownPenalty = 10f;
    // C's FLT_MIN: sentencepiece starts its maximum from it.
    private const float SmallestNormalFloat = 1.17549435E-38f;

    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly float[] _scores;
    private readonly Proto.ModelProto.Types.SentencePiece.Types.Type[] _types;
    private readonly int _longestPiece;
    private readonly float _minScore = float.MaxValue, _maxScore = SmallestNormalFloat;

    public SentencePieceUnigram(Proto.ModelProto model, int unknownId)
    {
        UnknownId = unknownId;
        var pieces = new Dictionary<string, int>(StringComparer.Ordinal);
        _scores = new float[model.Pieces.Count];
        _types = new Proto.ModelProto.Types.SentencePiece.Types.Type[model.Pieces.Count];
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var piece = model.Pieces[id];
            _scores[id] = piece.Score;
            _types[id] = piece.Type;
            // Only normal, user-defined and unused pieces are matched in text (model_interface.cc).
            if (piece.Type is Proto.ModelProto.Types.SentencePiece.Types.Type.Normal
                or Proto.ModelProto.Types.SentencePiece.Types.Type.UserDefined
                or Proto.ModelProto.Types.SentencePiece.Types.Type.Unused)
            {
                pieces.TryAdd(piece.Piece, id);
                _longestPiece = Math.Max(_longestPiece, piece.Piece.Length);
            }
            if (piece.Type == Proto.ModelProto.Types.SentencePiece.Types.Type.Normal)
            {
                _minScore = Math.Min(_minScore, piece.Score);
                _maxScore = Math.Max(_maxScore, piece.Score);
            }
        }
        _lookup = pieces.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public int UnknownId { get; }

    /// <summary>One piece of the segmentation: its id and its [Start, End) in the normalized text.</summary>
    public readonly record struct Segment(int Id, int Start, int End);

    public List<Segment> Encode(string normalized)
    {
        int length = normalized.Length;
        var result = new List<Segment>();
        if (length == 0) return result;
        var bestScore = new float[length + 1];
        var startsAt = new int[length + 1];
        var ids = new int[length + 1];
        Array.Fill(startsAt, -1);
        float unknownScore = _minScore - UnknownPenalty;
        var text = normalized.AsSpan();

        for (int start = 0; start < length;)
        {
            float tillHere = bestScore[start];
            int charLength = char.IsHighSurrogate(text[start]) && start + 1 < length && char.IsLowSurrogate(text[start + 1]) ? 2 : 1;
            bool hasSingleCharacterPiece = false;
            int longest = Math.Min(_longestPiece, length - start);
            for (int pieceLength = 1; pieceLength <= longest; pieceLength++)
            {
                int end = start + pieceLength;
                if (end < length && char.IsLowSurrogate(text[end]) && char.IsHighSurrogate(text[end - 1])) continue;
                if (!_lookup.TryGetValue(text.Slice(start, pieceLength), out int id)) continue;
                var type = _types[id];
                if (type == Proto.ModelProto.Types.SentencePiece.Types.Type.Unused) continue;
                // User-defined symbols get a bonus so that they are always chosen; the bonus is computed in double.
                double score = type == Proto.ModelProto.Types.SentencePiece.Types.Type.UserDefined
                    ? Encoding.UTF8.GetByteCount(text.Slice(start, pieceLength)) * _maxScore - 0.1
                    : _scores[id];
                double candidate = score + tillHere;
                if (startsAt[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = (float)candidate;
                    startsAt[end] = start;
                    ids[end] = id;
                }
                if (pieceLength == charLength) hasSingleCharacterPiece = true;
            }
            if (!hasSingleCharacterPiece)
            {
                int end = start + charLength;
                float candidate = unknownScore + tillHere;
                if (startsAt[end] == -1 || candidate > bestScore[end])
                {
                    bestScore[end] = candidate;
                    startsAt[end] = start;
                    ids[end] = UnknownId;
                }
            }
            start += charLength;
        }

        for (int end = length; end > 0; end = startsAt[end]) result.Add(new Segment(ids[end], startsAt[end], end));
        result.Reverse();

        // A run of unknown pieces becomes one unknown piece.
        int write = 0;
        for (int read = 0; read < result.Count; read++)
        {
            if (write > 0 && result[read].Id == UnknownId && result[write - 1].Id == UnknownId)
                result[write - 1] = result[write - 1] with { End = result[read].End };
            else
                result[write++] = result[read];
        }
        result.RemoveRange(write, result.Count - write);
        return result;
    }
}
