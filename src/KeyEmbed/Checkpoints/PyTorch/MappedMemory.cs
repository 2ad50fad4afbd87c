using System.Buffers;

namespace KeyEmbed.Checkpoints.PyTorch;

/// <summary>Exposes a region of a memory-mapped view as <see cref="Memory{T}"/> without copying it.</summary>
internal sealed unsafe class MappedMemory(byte* pointer, int length) : MemoryManager<byte>
{
    public override Span<byte> GetSpan() => new(pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

    public override void Unpin() { }

    protected override void Dispose(bool disposing) { }
}
