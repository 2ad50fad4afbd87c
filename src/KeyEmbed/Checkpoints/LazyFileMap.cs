using System.IO.MemoryMappedFiles;

namespace KeyEmbed.Checkpoints;

/// <summary>
/// A read-only memory map of a checkpoint file, made on first use and kept until disposed, so a reader opens fast
/// and a large model is read only when (and as far as) its tensors are.
/// </summary>
internal sealed class LazyFileMap(string path) : IDisposable
{
    private readonly Lock _gate = new();
    private MemoryMappedFile? _map;
    private MemoryMappedViewAccessor? _view;

    public string Path { get; } = path;

    /// <summary>
    /// The whole file's view. <paramref name="validatedLength"/> is the size the reader checked its offsets against:
    /// a file that shrank since would make those offsets unsafe, so it is refused.
    /// </summary>
    public MemoryMappedViewAccessor View(long validatedLength)
    {
        lock (_gate)
        {
            if (_view == null)
            {
                try
                {
                    _map = MemoryMappedFile.CreateFromFile(Path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
                    _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
                }
                catch (IOException e)
                {
                    throw KeyEmbedException.Checkpoint(Path, $"cannot map the file ({e.Message})", e);
                }
            }
            if (_view.Capacity < validatedLength)
                throw KeyEmbedException.Checkpoint(Path, $"file is {_view.Capacity} bytes but held {validatedLength} when the checkpoint was opened");
            return _view;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _view?.Dispose();
            _map?.Dispose();
            _view = null;
            _map = null;
        }
    }
}
