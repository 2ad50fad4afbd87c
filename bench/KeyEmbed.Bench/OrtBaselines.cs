using System.Numerics.Tensors;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Bench;

/// <summary>Something that turns texts into vectors, measured by the harness.</summary>
internal sealed record Engine(string Name, Func<IReadOnlyList<string>, float[][]> Embed);

/// <summary>
/// The two peer recipes on the original all-MiniLM-L6-v2 graph, run with ONNX Runtime directly: tokenize
/// (pluggable), batch, run, masked mean pooling and L2 normalisation in C#.
/// </summary>
internal sealed class OrtBaselines : IDisposable
{
    public const int BatchSize = 32;
    public const int ClassicPadLength = 128;
    public const string ClassicName = "ORT, pad every text to 128";
    public const string SortedName = "ORT, length-sorted batches of 32";

    private readonly InferenceSession _session;
    private readonly Func<string, long[]> _tokenize;
    private readonly bool _hasTokenTypes;
    private readonly string _outputName;

    public OrtBaselines(byte[] model, Func<string, long[]> tokenize, int threads)
    {
        _tokenize = tokenize;
        using var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        _session = new InferenceSession(model, options);
        _hasTokenTypes = _session.InputMetadata.ContainsKey("token_type_ids");
        // The token-level output: the first output of rank 3 ([batch, seq, hidden]).
        _outputName = _session.OutputMetadata.First(o => o.Value.Dimensions.Length == 3).Key;
        HiddenSize = _session.OutputMetadata[_outputName].Dimensions[2];
    }

    public int HiddenSize { get; }

    public string Describe() =>
        $"inputs [{string.Join(", ", _session.InputMetadata.Keys)}], token output '{_outputName}' (hidden {HiddenSize})";

    /// <summary>(a) The classic recipe: batches of 32 in input order, every text padded to 128 tokens
    /// (a longer text widens its batch to its own length instead of being cut, so answers stay comparable).</summary>
    public Engine PadTo128() => new(ClassicName, texts =>
    {
        var result = new float[texts.Count][];
        for (int start = 0; start < texts.Count; start += BatchSize)
        {
            int[] batch = [.. Enumerable.Range(start, Math.Min(BatchSize, texts.Count - start))];
            var ids = batch.Select(i => _tokenize(texts[i])).ToArray();
            RunBatch(ids, Math.Max(ClassicPadLength, ids.Max(t => t.Length)), batch, result);
        }
        return result;
    });

    /// <summary>(b) Length-sorted batches of 32, each padded only to its longest text; results back in input order.</summary>
    public Engine SortedBatches() => new(SortedName, texts => RunSorted(texts, 1, _session));

    /// <summary>(c) Experiment: the sorted batches of (b) run by <paramref name="workers"/> threads at once on a session of one intra-op thread.</summary>
    public Engine SortedBatchesParallel(byte[] model, int workers, int intraThreads = 1)
    {
        using var options = new SessionOptions { IntraOpNumThreads = intraThreads, InterOpNumThreads = 1, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        var session = new InferenceSession(model, options);
        return new($"ORT sorted batches, {workers} workers × {intraThreads} thread", texts => RunSorted(texts, workers, session));
    }

    private float[][] RunSorted(IReadOnlyList<string> texts, int workers, InferenceSession session)
    {
        var ids = texts.Select(_tokenize).ToArray();
        int[] order = [.. Enumerable.Range(0, texts.Count).OrderBy(i => ids[i].Length)];
        var result = new float[texts.Count][];
        var starts = Enumerable.Range(0, (order.Length + BatchSize - 1) / BatchSize).Select(b => b * BatchSize).ToArray();
        void Run(int start)
        {
            int[] batch = order[start..Math.Min(order.Length, start + BatchSize)];
            var batchIds = batch.Select(i => ids[i]).ToArray();
            RunBatch(batchIds, batchIds.Max(t => t.Length), batch, result, session);
        }
        if (workers == 1)
            foreach (int start in starts) Run(start);   // the peer recipe: one batch after another on the caller's thread
        else   // longest batches first, so the workers finish together
            Parallel.ForEach(starts.Reverse(), new ParallelOptions { MaxDegreeOfParallelism = workers }, Run);
        return result;
    }

    private void RunBatch(long[][] ids, int length, int[] targets, float[][] result, InferenceSession? session = null)
    {
        int rows = ids.Length;
        var inputIds = new long[rows * length];
        var mask = new long[rows * length];
        for (int r = 0; r < rows; r++)
        {
            ids[r].CopyTo(inputIds, r * length);
            mask.AsSpan(r * length, ids[r].Length).Fill(1);
        }
        long[] shape = [rows, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(inputIds, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[rows * length], shape);
        var names = new List<string> { "input_ids", "attention_mask" };
        var values = new List<OrtValue> { idsValue, maskValue };
        if (_hasTokenTypes) { names.Add("token_type_ids"); values.Add(typesValue); }
        using var runOptions = new RunOptions();
        using var outputs = (session ?? _session).Run(runOptions, names, values, [_outputName]);
        ReadOnlySpan<float> hidden = outputs[0].GetTensorDataAsSpan<float>();
        for (int r = 0; r < rows; r++)
            result[targets[r]] = MeanPoolNormalized(hidden.Slice(r * length * HiddenSize, length * HiddenSize), ids[r].Length);
    }

    /// <summary>Mean over the first <paramref name="tokens"/> positions (the unpadded ones), then L2-normalised.</summary>
    private float[] MeanPoolNormalized(ReadOnlySpan<float> rows, int tokens)
    {
        var vector = new float[HiddenSize];
        for (int t = 0; t < tokens; t++)
            TensorPrimitives.Add(vector, rows.Slice(t * HiddenSize, HiddenSize), vector);
        float norm = TensorPrimitives.Norm(vector);
        if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
        return vector;
    }

    public void Dispose() => _session.Dispose();
}
