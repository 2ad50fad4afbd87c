using System.Globalization;

namespace KeyEmbed.Runtime;

/// <summary>
/// The names of every encoder graph's inputs and outputs, in one place: the graph builders emit them, the runtime
/// feeds and reads them, and <c>hidden-states</c> writes them (the reference data's contract).
/// </summary>
public static class GraphNames
{
    /// <summary>int64 [batch, sequence] token ids.</summary>
    public const string InputIds = "input_ids";

    /// <summary>int64 [batch, sequence], 1 = real token, 0 = padding.</summary>
    public const string AttentionMask = "attention_mask";

    /// <summary>int64 [batch, sequence] segment ids.</summary>
    public const string TokenTypeIds = "token_type_ids";

    /// <summary>Prefix of <see cref="HiddenState"/>.</summary>
    public const string HiddenStatePrefix = "hidden_states.";

    /// <summary>Prefix of <see cref="Memory"/>.</summary>
    public const string MemoryPrefix = "mems.";

    /// <summary>Prefix of <see cref="NewMemory"/>.</summary>
    public const string NewMemoryPrefix = "new_mems.";

    /// <summary>float [batch, sequence, hidden]: hidden state k (0 = the embeddings' output, L = the last layer).</summary>
    public static string HiddenState(int layer) => HiddenStatePrefix + Text(layer);

    /// <summary>float [batch, hidden]: hidden state k mean-pooled over the attention mask inside the graph.</summary>
    public static string PooledMean(int layer) => "pooled_mean." + Text(layer);

    /// <summary>XLNet: float [memory, batch, hidden] memory fed to layer k + 1.</summary>
    public static string Memory(int layer) => MemoryPrefix + Text(layer);

    /// <summary>XLNet: float [memory, batch, hidden] memory the model hands on for layer k + 1.</summary>
    public static string NewMemory(int layer) => NewMemoryPrefix + Text(layer);

    private static string Text(int layer) => layer.ToString(CultureInfo.InvariantCulture);
}
