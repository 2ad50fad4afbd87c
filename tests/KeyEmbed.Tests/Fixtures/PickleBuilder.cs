using System.Buffers.Binary;
using System.Text;

namespace KeyEmbed.Tests.Fixtures;

/// <summary>Emits pickle opcodes one by one, so tests can write both torch-shaped and hostile pickles.</summary>
internal sealed class PickleBuilder
{
    private readonly MemoryStream _bytes = new();

    public PickleBuilder Op(byte opcode) { _bytes.WriteByte(opcode); return this; }

    public PickleBuilder Raw(ReadOnlySpan<byte> bytes) { _bytes.Write(bytes); return this; }

    public PickleBuilder Proto(byte version) => Op(0x80).Op(version);

    public PickleBuilder Mark() => Op((byte)'(');

    public PickleBuilder Stop() => Op((byte)'.');

    public PickleBuilder Global(string module, string name) => Op((byte)'c').Raw(Encoding.UTF8.GetBytes(module + "\n" + name + "\n"));

    public PickleBuilder EmptyTuple() => Op((byte)')');

    public PickleBuilder EmptyDict() => Op((byte)'}');

    public PickleBuilder Tuple() => Op((byte)'t');

    public PickleBuilder Reduce() => Op((byte)'R');

    public PickleBuilder Build() => Op((byte)'b');

    public PickleBuilder SetItems() => Op((byte)'u');

    public PickleBuilder PersistentId() => Op((byte)'Q');

    public PickleBuilder False() => Op(0x89);

    public PickleBuilder Put(byte slot) => Op((byte)'q').Op(slot);

    public PickleBuilder Get(byte slot) => Op((byte)'h').Op(slot);

    public PickleBuilder String(string value)
    {
        var utf8 = Encoding.UTF8.GetBytes(value);
        return StringHeader((uint)utf8.Length).Raw(utf8);
    }

    /// <summary>A BINUNICODE opcode with a length of the caller's choosing (which may be a lie).</summary>
    public PickleBuilder StringHeader(uint claimedLength)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(length, claimedLength);
        return Op((byte)'X').Raw(length);
    }

    public PickleBuilder Int(long value)
    {
        if (value is >= 0 and < 256) return Op((byte)'K').Op((byte)value);
        if (value is >= int.MinValue and <= int.MaxValue)
        {
            Span<byte> four = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(four, (int)value);
            return Op((byte)'J').Raw(four);
        }
        Span<byte> eight = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(eight, value);
        return Op(0x8a).Op(8).Raw(eight);
    }

    public PickleBuilder IntTuple(IEnumerable<long> values)
    {
        Mark();
        foreach (var v in values) Int(v);
        return Tuple();
    }

    public byte[] ToArray() => _bytes.ToArray();
}
