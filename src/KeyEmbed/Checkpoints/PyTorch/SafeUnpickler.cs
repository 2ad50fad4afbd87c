using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace KeyEmbed.Checkpoints.PyTorch;

/// <summary>
/// Interprets the pickle opcodes a PyTorch state dict uses and nothing else. Unlike Python's unpickler it
/// never imports or calls what a file names: GLOBAL may only name an allow-listed function or class
/// (OrderedDict, torch's tensor-rebuild functions, typed storages), and REDUCE of those builds inert records
/// (<see cref="PickleDict"/>, <see cref="TensorRef"/>). Every length is checked against the bytes left before
/// anything is allocated.
/// </summary>
internal sealed class SafeUnpickler
{
    private static readonly Dictionary<string, TensorDType> StorageTypes = new(StringComparer.Ordinal)
    {
        ["FloatStorage"] = TensorDType.F32,
        ["HalfStorage"] = TensorDType.F16,
        ["BFloat16Storage"] = TensorDType.BF16,
        ["DoubleStorage"] = TensorDType.F64,
        ["LongStorage"] = TensorDType.I64,
        ["IntStorage"] = TensorDType.I32,
        ["CharStorage"] = TensorDType.I8,
        ["ByteStorage"] = TensorDType.U8,
        ["BoolStorage"] = TensorDType.U8,
        // torch 2 names a storage saved without a tensor type this way; its elements are bytes.
        ["UntypedStorage"] = TensorDType.U8,
    };

    private static readonly HashSet<string> AllowedFunctions = new(StringComparer.Ordinal)
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
    };

    private const int MaxGlobalNameBytes = 1024;

    private readonly string _file;
    private readonly ReadOnlyMemory<byte> _data;
    private readonly Func<PickleTuple, StorageRef> _persistentLoad;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private int _position;

    /// <param name="file">Named in every error (e.g. <c>model.bin:archive/data.pkl</c>).</param>
    /// <param name="data">The pickle bytes (possibly followed by other data).</param>
    /// <param name="persistentLoad">Resolves a persistent id tuple (torch's <c>('storage', type, key, location, numel)</c>).</param>
    /// <param name="start">Where the pickle starts in <paramref name="data"/>.</param>
    public SafeUnpickler(string file, ReadOnlyMemory<byte> data, Func<PickleTuple, StorageRef> persistentLoad, int start = 0)
    {
        _file = file;
        _data = data;
        _persistentLoad = persistentLoad;
        _position = start;
    }

    /// <summary>The byte after the STOP opcode once <see cref="Load"/> has returned.</summary>
    public int Position => _position;

    /// <summary>Whether a storage class name (<c>FloatStorage</c>…) is one the reader understands, and its type.</summary>
    public static bool TryGetStorageType(PickleGlobal global, out TensorDType dtype)
    {
        dtype = default;
        return global.Module is "torch" or "torch.cuda" && StorageTypes.TryGetValue(global.Name, out dtype);
    }

    public object? Load()
    {
        while (true)
        {
            if (_position >= _data.Length)
                throw Problem("ends before its STOP opcode; the file is truncated");
            int opcodeAt = _position;
            byte opcode = _data.Span[_position++];
            switch (opcode)
            {
                case 0x80: // PROTO
                    byte protocol = ReadByte();
                    if (protocol > 5) throw Problem($"uses pickle protocol {protocol}; protocols up to 5 are known");
                    break;
                case 0x95: // FRAME: frames only group opcodes; their length needs no action beyond a check.
                    ReadCheckedLength(ReadInt64(), "frame");
                    break;
                case (byte)'.': // STOP
                    if (_stack.Count != 1) throw Problem($"stops with {_stack.Count} values on the stack instead of 1");
                    return _stack[0];
                case (byte)'(': _marks.Push(_stack.Count); break; // MARK
                case (byte)'}': Push(new PickleDict()); break; // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break; // EMPTY_LIST
                case (byte)')': Push(new PickleTuple([])); break; // EMPTY_TUPLE
                case (byte)'t': Push(new PickleTuple(PopToMark())); break; // TUPLE
                case 0x85: Push(new PickleTuple([Pop()])); break; // TUPLE1
                case 0x86: { var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b])); break; } // TUPLE2
                case 0x87: { var c = Pop(); var b = Pop(); var a = Pop(); Push(new PickleTuple([a, b, c])); break; } // TUPLE3
                case (byte)'N': Push(null); break; // NONE
                case 0x88: Push(true); break; // NEWTRUE
                case 0x89: Push(false); break; // NEWFALSE
                case (byte)'K': Push((long)ReadByte()); break; // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(Take(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(Take(4))); break; // BININT
                case 0x8a: Push(ReadLong1()); break; // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(Take(8))); break; // BINFLOAT
                case (byte)'X': Push(ReadUtf8(ReadCheckedLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), "string"))); break; // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadByte())); break; // SHORT_BINUNICODE
                case 0x8d: Push(ReadUtf8(ReadCheckedLength(ReadInt64(), "string"))); break; // BINUNICODE8
                case (byte)'U': Push(Encoding.Latin1.GetString(Take(ReadByte()))); break; // SHORT_BINSTRING
                case (byte)'T': Push(Encoding.Latin1.GetString(Take(ReadCheckedLength(BinaryPrimitives.ReadInt32LittleEndian(Take(4)), "string")))); break; // BINSTRING
                case (byte)'C': Push(Take(ReadByte()).ToArray()); break; // SHORT_BINBYTES
                case (byte)'B': Push(Take(ReadCheckedLength(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)), "bytes object")).ToArray()); break; // BINBYTES
                case (byte)'c': Push(Global(ReadLine(), ReadLine())); break; // GLOBAL
                case 0x93: // STACK_GLOBAL
                {
                    if (Pop() is not string name || Pop() is not string module) throw Problem("STACK_GLOBAL needs two strings");
                    Push(Global(module, name));
                    break;
                }
                case (byte)'R': // REDUCE
                {
                    if (Pop() is not PickleTuple args) throw Problem("REDUCE needs an argument tuple");
                    Push(Reduce(Pop(), args));
                    break;
                }
                case (byte)'b': Build(Pop(), Peek()); break; // BUILD
                case (byte)'Q': // BINPERSID
                {
                    if (Pop() is not PickleTuple id) throw Problem("a persistent id is not a tuple");
                    Push(_persistentLoad(id));
                    break;
                }
                case (byte)'s': { var value = Pop(); var key = Pop(); SetItem(Peek(), key, value); break; } // SETITEM
                case (byte)'u': // SETITEMS
                {
                    var items = PopToMark();
                    if (items.Length % 2 != 0) throw Problem("SETITEMS needs key/value pairs");
                    var target = Peek();
                    for (int i = 0; i < items.Length; i += 2) SetItem(target, items[i], items[i + 1]);
                    break;
                }
                case (byte)'a': { var item = Pop(); AsList(Peek()).Add(item); break; } // APPEND
                case (byte)'e': { var items = PopToMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'q': _memo[ReadByte()] = Peek(); break; // BINPUT
                case (byte)'r': _memo[BinaryPrimitives.ReadUInt32LittleEndian(Take(4))] = Peek(); break; // LONG_BINPUT
                case 0x94: _memo[_memo.Count] = Peek(); break; // MEMOIZE
                case (byte)'h': Push(FromMemo(ReadByte())); break; // BINGET
                case (byte)'j': Push(FromMemo(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)))); break; // LONG_BINGET
                default:
                    string shown = opcode is >= 0x20 and < 0x7f ? $" ('{(char)opcode}')" : "";
                    throw Problem($"opcode 0x{opcode:x2}{shown} at byte {opcodeAt} is not one a PyTorch state dict uses; refusing to interpret it");
            }
        }
    }

    private KeyEmbedException Problem(string what) => KeyEmbedException.Checkpoint(_file, $"pickle {what} (at byte {_position})");

    private void Push(object? value) => _stack.Add(value);

    private object? Pop()
    {
        int floor = _marks.Count > 0 ? _marks.Peek() : 0;
        if (_stack.Count <= floor) throw Problem("pops from an empty stack; the pickle is malformed");
        var value = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return value;
    }

    private object? Peek()
    {
        if (_stack.Count == 0) throw Problem("reads an empty stack; the pickle is malformed");
        return _stack[^1];
    }

    private object?[] PopToMark()
    {
        if (_marks.Count == 0) throw Problem("has no MARK for a tuple/list/dict opcode; the pickle is malformed");
        int start = _marks.Pop();
        var items = _stack.GetRange(start, _stack.Count - start).ToArray();
        _stack.RemoveRange(start, _stack.Count - start);
        return items;
    }

    private object? FromMemo(long index) =>
        _memo.TryGetValue(index, out var value) ? value : throw Problem($"refers to memo slot {index}, which was never stored");

    private byte ReadByte()
    {
        if (_position >= _data.Length) throw Problem("ends in the middle of an opcode; the file is truncated");
        return _data.Span[_position++];
    }

    private ReadOnlySpan<byte> Take(int count)
    {
        if (count > _data.Length - _position)
            throw Problem($"needs {count} bytes but only {_data.Length - _position} remain; the file is truncated");
        var span = _data.Span.Slice(_position, count);
        _position += count;
        return span;
    }

    private long ReadInt64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

    // A claimed length is checked against what is left before it becomes an allocation.
    private int ReadCheckedLength(long claimed, string what)
    {
        long remaining = _data.Length - _position;
        if (claimed < 0 || claimed > remaining)
            throw Problem($"claims a {what} of {claimed} bytes but only {remaining} remain; the file is truncated or corrupt");
        return (int)claimed;
    }

    private string ReadUtf8(int length)
    {
        try { return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Take(length)); }
        catch (DecoderFallbackException) { throw Problem("holds a string that is not valid UTF-8"); }
    }

    private string ReadLine()
    {
        var rest = _data.Span[_position..];
        int end = rest[..Math.Min(rest.Length, MaxGlobalNameBytes)].IndexOf((byte)'\n');
        if (end < 0) throw Problem("has a GLOBAL name without its end of line; the file is truncated or corrupt");
        var line = Encoding.UTF8.GetString(rest[..end]);
        _position += end + 1;
        return line;
    }

    // Integers longer than 8 bytes occur only as torch's legacy magic number; they become BigIntegers.
    private object ReadLong1()
    {
        int length = ReadByte();
        var bytes = Take(length);
        if (length > 8) return new BigInteger(bytes, isUnsigned: false, isBigEndian: false);
        long value = 0;
        for (int i = length - 1; i >= 0; i--) value = (value << 8) | bytes[i];
        // Sign-extend from the top byte (two's complement, little-endian).
        if (length is > 0 and < 8 && (bytes[length - 1] & 0x80) != 0) value -= 1L << (8 * length);
        return value;
    }

    private PickleGlobal Global(string module, string name)
    {
        var global = new PickleGlobal(module, name);
        if (AllowedFunctions.Contains(global.FullName) || TryGetStorageType(global, out _)) return global;
        throw KeyEmbedException.Checkpoint(_file,
            $"pickle names the global '{global.FullName}', which is not on KeyEmbed's allow-list for PyTorch state dicts; refusing to load the file (KeyEmbed never runs code from a checkpoint; convert it to safetensors with a tool you trust)");
    }

    private object? Reduce(object? callable, PickleTuple args)
    {
        if (callable is not PickleGlobal global) throw Problem("REDUCE calls something that is not a global");
        var a = args.Items;
        switch (global.FullName)
        {
            case "collections.OrderedDict":
                var dict = new PickleDict();
                if (a.Length == 1 && a[0] is List<object?> pairs)
                    foreach (var pair in pairs)
                        if (pair is PickleTuple { Items.Length: 2 } p) SetItem(dict, p.Items[0], p.Items[1]);
                        else throw Problem("OrderedDict is built from something other than key/value pairs");
                else if (a.Length != 0) throw Problem("OrderedDict is called with unexpected arguments");
                return dict;
            case "torch._utils._rebuild_tensor":
            case "torch._utils._rebuild_tensor_v2":
                // (storage, storage_offset, size, stride[, requires_grad, backward_hooks[, metadata]])
                if (a.Length < 4 || a[0] is not StorageRef storage || a[1] is not long offset)
                    throw Problem($"{global.Name} has arguments other than (storage, offset, size, stride, ...)");
                return new TensorRef(storage, offset, Longs(a[2], "size"), Longs(a[3], "stride"));
            case "torch._utils._rebuild_parameter":
            case "torch._utils._rebuild_parameter_with_state":
                // (data, requires_grad, backward_hooks[, state]): a parameter is its data for a reader.
                if (a.Length < 1 || a[0] is not TensorRef data) throw Problem($"{global.Name} is not given a tensor");
                return data;
            default:
                throw Problem($"calls '{global.FullName}', which is a type, not a function a state dict calls");
        }
    }

    private long[] Longs(object? value, string what)
    {
        if (value is not PickleTuple tuple) throw Problem($"tensor {what} is not a tuple");
        var result = new long[tuple.Items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = tuple.Items[i] is long l ? l : throw Problem($"tensor {what} holds a non-integer");
        return result;
    }

    private void SetItem(object? target, object? key, object? value)
    {
        if (target is not PickleDict dict) throw Problem("sets an item on something that is not a dict");
        if (key is null || key is List<object?> || key is PickleDict) throw Problem("uses an unhashable or None dict key");
        dict.Items[key] = value;
    }

    private List<object?> AsList(object? target) =>
        target as List<object?> ?? throw Problem("appends to something that is not a list");

    // BUILD sets an object's state. torch stores a state dict's `_metadata` (per-module versions) this way;
    // it is kept out of the tensors, so accepting and dropping it is all a reader needs.
    private void Build(object? state, object? target)
    {
        if (target is PickleDict && state is null or PickleDict or PickleTuple) return;
        throw Problem($"BUILD sets state on a {target?.GetType().Name ?? "None"}, which a state dict never does");
    }
}
