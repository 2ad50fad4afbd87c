using System.IO.MemoryMappedFiles;

namespace KeyEmbed.Checkpoints.Onnx;

/// <summary>The bytes of an ONNX model as the reader sees them: an array in memory, or a region of a file mapped read-only.</summary>
internal abstract class ModelBytes : IDisposable
{
    public abstract ReadOnlySpan<byte> Span { get; }

    public abstract void Dispose();

    public static ModelBytes Of(byte[] bytes) => new ArrayBytes(bytes);

    /// <summary>
    /// Maps <paramref name="length"/> bytes of <paramref name="path"/> from <paramref name="offset"/> (the pages are read
    /// from disk or the page cache only when touched, and shared with other processes reading the same file).
    /// </summary>
    public static ModelBytes Map(string path, long offset, long length)
    {
        if (length > int.MaxValue)
            throw KeyEmbedException.Checkpoint(path, $"{length} bytes is beyond what an ONNX protobuf can hold (2 GB); use a checkpoint format instead");
        if (length == 0) return new ArrayBytes([]);
        return new MappedBytes(path, offset, (int)length);
    }

    private sealed class ArrayBytes(byte[] bytes) : ModelBytes
    {
        public override ReadOnlySpan<byte> Span => bytes;

        public override void Dispose()
        {
        }
    }

    private sealed unsafe class MappedBytes : ModelBytes
    {
        private readonly MemoryMappedFile _file;
        private readonly MemoryMappedViewAccessor _view;
        private readonly byte* _start;
        private readonly int _length;
        private int _disposed;

        public MappedBytes(string path, long offset, int length)
        {
            _file = MemoryMappedFile.CreateFromFile(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read), null, 0,
                MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            try
            {
                _view = _file.CreateViewAccessor(offset, length, MemoryMappedFileAccess.Read);
                byte* pointer = null;
                _view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
                _start = pointer + _view.PointerOffset;
                _length = length;
            }
            catch
            {
                _view?.Dispose();
                _file.Dispose();
                throw;
            }
        }

        public override ReadOnlySpan<byte> Span
        {
            get
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                return new ReadOnlySpan<byte>(_start, _length);
            }
        }

        public override void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _file.Dispose();
        }
    }
}
