using System.Runtime.InteropServices;
using Microsoft.ML.OnnxRuntime;

namespace KeyEmbed.Runtime;

/// <summary>A dense tensor copied out of (or into) ONNX Runtime: row-major data plus its shape.</summary>
public sealed record DenseTensor<T>(T[] Data, long[] Shape) where T : unmanaged
{
    /// <summary>Shape as text, e.g. <c>[2, 7, 384]</c>.</summary>
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>Threading and optimisation settings for an <see cref="EncoderSession"/>.</summary>
public sealed record SessionSettings
{
    /// <summary>Intra-op threads; 0 = the machine's cores.</summary>
    public int Threads { get; init; }

    /// <summary>Whether ONNX Runtime may rewrite the graph (fusions). On by default.</summary>
    public bool Optimize { get; init; } = true;

    /// <summary>Whether idle intra-op threads spin before sleeping (ORT's <c>session.intra_op.allow_spinning</c>). On by default, as in ONNX Runtime.</summary>
    public bool AllowSpinning { get; init; } = true;

    // Sessions of one model share the weights ONNX Runtime repacks for its MatMul kernels instead of packing them again.
    internal PrePackedWeightsContainer? SharedPrePackedWeights { get; init; }
}

/// <summary>One ONNX Runtime session over one built graph: runs batches and returns the requested outputs.</summary>
internal sealed class EncoderSession : IDisposable
{
    private readonly InferenceSession _session;
    // The ORT-format model a session runs on without copying it (its initializers point into these bytes): pinned
    // for the session's lifetime and released after it.
    private GCHandle _pinnedModel;

    /// <summary>Opens a session on an ONNX model; ONNX Runtime optimizes it (<see cref="SessionSettings.Optimize"/>).</summary>
    /// <param name="model">The ONNX model's bytes.</param>
    /// <param name="settings">Threads and optimization.</param>
    /// <param name="saveOptimizedTo">A file to which ONNX Runtime writes the optimized graph in its own (ORT) format,
    /// for <see cref="FromOptimized"/> at a later start; null = none.</param>
    public EncoderSession(byte[] model, SessionSettings? settings = null, string? saveOptimizedTo = null)
    {
        settings ??= new SessionSettings();
        using var options = Options(settings);
        if (saveOptimizedTo != null)
        {
            options.OptimizedModelFilePath = saveOptimizedTo;
            options.AddSessionConfigEntry("session.save_model_format", "ORT");
        }
        _session = Open(model, options, settings);
        InputNames = [.. _session.InputMetadata.Keys];
        OutputNames = [.. _session.OutputMetadata.Keys];
    }

    private EncoderSession(InferenceSession session, GCHandle pinnedModel)
    {
        _session = session;
        _pinnedModel = pinnedModel;
        InputNames = [.. _session.InputMetadata.Keys];
        OutputNames = [.. _session.OutputMetadata.Keys];
    }

    /// <summary>
    /// Opens a session on a graph ONNX Runtime optimized before and saved in its ORT format (<c>saveOptimizedTo</c>):
    /// no optimization passes run again, and the weights are used where they lie in <paramref name="ortModel"/> instead
    /// of being copied (ORT's <c>session.use_ort_model_bytes_directly</c> and <c>use_ort_model_bytes_for_initializers</c>),
    /// so the array is pinned and kept until the session is disposed. Only for a file written by the same ONNX Runtime
    /// version on the same kind of CPU (the graph cache's key says so).
    /// </summary>
    public static EncoderSession FromOptimized(byte[] ortModel, SessionSettings? settings = null)
    {
        settings ??= new SessionSettings();
        using var options = Options(settings);
        options.AddSessionConfigEntry("session.use_ort_model_bytes_directly", "1");
        options.AddSessionConfigEntry("session.use_ort_model_bytes_for_initializers", "1");
        var pinned = GCHandle.Alloc(ortModel, GCHandleType.Pinned);
        try
        {
            return new EncoderSession(Open(ortModel, options, settings), pinned);
        }
        catch
        {
            pinned.Free();
            throw;
        }
    }

    private static SessionOptions Options(SessionSettings settings)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = settings.Threads > 0 ? settings.Threads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
            // Failures reach the caller as KeyEmbedException; ORT's own console log would repeat them.
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL,
            GraphOptimizationLevel = settings.Optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL,
        };
        if (!settings.AllowSpinning) options.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
        return options;
    }

    private static InferenceSession Open(byte[] model, SessionOptions options, SessionSettings settings)
    {
        try
        {
            return settings.SharedPrePackedWeights is { } shared
                ? new InferenceSession(model, options, shared)
                : new InferenceSession(model, options);
        }
        catch (OnnxRuntimeException e)
        { throw new KeyEmbedException(ErrorKind.Runtime, $"ONNX Runtime could not load the built graph: {e.Message}", e); }
    }

    public IReadOnlyList<string> InputNames { get; }

    public IReadOnlyList<string> OutputNames { get; }

    /// <summary>Runs the graph. Inputs the graph does not declare are ignored; outputs are copied out once.</summary>
    public Dictionary<string, DenseTensor<float>> Run(
        IReadOnlyDictionary<string, DenseTensor<long>> intInputs,
        IReadOnlyCollection<string> outputs,
        IReadOnlyDictionary<string, DenseTensor<float>>? floatInputs = null)
    {
        var disposables = new List<IDisposable>();
        try
        {
            var names = new List<string>();
            var values = new List<OrtValue>();
            foreach (var (name, tensor) in intInputs)
            {
                if (!InputNames.Contains(name)) continue;
                var v = OrtValue.CreateTensorValueFromMemory(tensor.Data, tensor.Shape);
                disposables.Add(v); names.Add(name); values.Add(v);
            }
            if (floatInputs != null)
                foreach (var (name, tensor) in floatInputs)
                {
                    if (!InputNames.Contains(name)) continue;
                    var v = OrtValue.CreateTensorValueFromMemory(tensor.Data, tensor.Shape);
                    disposables.Add(v); names.Add(name); values.Add(v);
                }
            var outputNames = outputs.ToArray();
            using var runOptions = new RunOptions();
            var map = new Dictionary<string, DenseTensor<float>>(StringComparer.Ordinal);
            // Outputs whose shape follows from the inputs ([batch, sequence, …]) are written by ORT straight into the
            // arrays handed back, with no second copy; any other output (XLNet's memories) is copied out of ORT's buffer.
            if (intInputs.TryGetValue(GraphNames.InputIds, out var ids) && PreallocatedOutputs(outputNames, ids.Shape) is { } preallocated)
            {
                var outputValues = new OrtValue[outputNames.Length];
                for (int i = 0; i < outputNames.Length; i++)
                {
                    outputValues[i] = OrtValue.CreateTensorValueFromMemory(preallocated[i].Data, preallocated[i].Shape);
                    disposables.Add(outputValues[i]);
                }
                _session.Run(runOptions, names, values, outputNames, outputValues);
                for (int i = 0; i < outputNames.Length; i++) map[outputNames[i]] = preallocated[i];
                return map;
            }
            using var results = _session.Run(runOptions, names, values, outputNames);
            for (int i = 0; i < outputNames.Length; i++)
            {
                var info = results[i].GetTensorTypeAndShape();
                map[outputNames[i]] = new DenseTensor<float>(results[i].GetTensorDataAsSpan<float>().ToArray(), info.Shape);
            }
            return map;
        }
        catch (OnnxRuntimeException e)
        {
            throw new KeyEmbedException(ErrorKind.Runtime, $"ONNX Runtime failed while running the model: {e.Message}", e);
        }
        finally
        {
            foreach (var d in disposables) d.Dispose();
        }
    }

    // Float outputs of dims that are fixed, "batch" or "sequence" (input_ids' two dims): allocated here, or null when
    // any output's shape is only known once the graph has run.
    private DenseTensor<float>[]? PreallocatedOutputs(string[] outputNames, long[] inputShape)
    {
        if (inputShape.Length != 2) return null;
        var result = new DenseTensor<float>[outputNames.Length];
        for (int i = 0; i < outputNames.Length; i++)
        {
            if (!_session.OutputMetadata.TryGetValue(outputNames[i], out var meta) || meta.ElementDataType != Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float) return null;
            var shape = new long[meta.Dimensions.Length];
            for (int d = 0; d < shape.Length; d++)
            {
                string symbol = d < meta.SymbolicDimensions.Length ? meta.SymbolicDimensions[d] : "";
                shape[d] = symbol switch
                {
                    "batch" => inputShape[0],
                    "sequence" => inputShape[1],
                    _ when meta.Dimensions[d] > 0 => meta.Dimensions[d],
                    _ => -1,
                };
                if (shape[d] < 0) return null;
            }
            long size = 1;
            foreach (long n in shape) size *= n;
            result[i] = new DenseTensor<float>(new float[size], shape);
        }
        return result;
    }

    public void Dispose()
    {
        _session.Dispose();
        if (_pinnedModel.IsAllocated) _pinnedModel.Free();
    }
}
