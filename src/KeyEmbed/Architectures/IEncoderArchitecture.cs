using Onnx;

namespace KeyEmbed.Architectures;

/// <summary>Which side of a row padding goes on: BERT pads on the right, XLNet on the left.</summary>
public enum PaddingSide
{
    /// <summary>Real tokens first, padding after (BERT).</summary>
    Right,
    /// <summary>Padding first, real tokens after (XLNet).</summary>
    Left,
}

/// <summary>
/// What a caller needs from a graph: the highest transformer layer to compute (the graph is cut after it) and
/// which hidden states to expose (<c>hidden_states.k</c>, k = 0 embedding output … L last layer).
/// </summary>
/// <param name="HighestLayer">Highest layer computed, 0..L.</param>
/// <param name="HiddenStateOutputs">Layers exposed as outputs; null = every layer 0..HighestLayer.</param>
public sealed record GraphRequest(int HighestLayer, IReadOnlyList<int>? HiddenStateOutputs = null);

/// <summary>
/// One loaded encoder model (BERT, XLNet): its facts and the ability to build an ONNX graph from its weights.
/// Graph inputs are int64 <c>input_ids</c>, <c>attention_mask</c>, <c>token_type_ids</c> [batch, sequence];
/// outputs are float <c>hidden_states.k</c> [batch, sequence, hidden].
/// </summary>
internal interface IEncoderArchitecture
{
    /// <summary>"bert" or "xlnet".</summary>
    string Name { get; }

    /// <summary>Number of transformer layers L.</summary>
    int LayerCount { get; }

    /// <summary>Width of every hidden state.</summary>
    int HiddenSize { get; }

    /// <summary>Longest sequence the model accepts (BERT: max_position_embeddings); null when unbounded (XLNet).</summary>
    int? MaxSequenceLength { get; }

    /// <summary>Which side the model pads on.</summary>
    PaddingSide PaddingSide { get; }

    /// <summary>Facts for <c>keyembed inspect</c> (architecture, layers, hidden size, heads, …), in display order.</summary>
    IReadOnlyList<KeyValuePair<string, string>> Facts { get; }

    /// <summary>Checkpoint tensors the encoder does not use (heads, pooler, optimizer slots), for <c>inspect</c>.</summary>
    IReadOnlyList<string> IgnoredWeights { get; }

    /// <summary>Number of parameters the encoder uses.</summary>
    long ParameterCount { get; }

    /// <summary>Builds the graph for a request.</summary>
    ModelProto BuildGraph(GraphRequest request);
}
