namespace KeyEmbed.Checkpoints;

/// <summary>
/// A file's length in bytes, through symbolic links: <see cref="FileInfo.Length"/> of a link is the link's own size,
/// and Hugging Face cache snapshots are links into <c>blobs/</c>.
/// </summary>
internal static class FileLength
{
    public static long Of(string path)
    {
        var info = new FileInfo(path);
        return info.LinkTarget is null ? info.Length
            : (info.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? info).Length;
    }
}
