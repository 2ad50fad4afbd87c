using System.Reflection;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;

namespace KeyEmbed.Stores.Folder;

/// <summary>
/// The few calls of USearch's C library (<c>libusearch_c</c>, shipped in the Cloud.Unum.USearch package and loaded by
/// its binding) that the C# binding 2.26.6 does not expose: reserving capacity ahead, and adding one vector (thread-safe
/// once capacity is reserved: the native index hands each concurrent add its own context). They act on the native
/// index an existing <see cref="USearchIndex"/> owns. When the binding's layout differs from the one this was written
/// against, <see cref="TryHandle"/> says so and the caller falls back to the binding's own one-thread add.
/// </summary>
internal static partial class USearchNative
{
    private const string Library = "libusearch_c";
    private static readonly FieldInfo? HandleField = typeof(USearchIndex).GetField("_index", BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>The native index behind <paramref name="index"/>, when the binding keeps it where 2.26.6 does.</summary>
    public static bool TryHandle(USearchIndex index, out IntPtr handle)
    {
        handle = HandleField?.FieldType == typeof(IntPtr) ? (IntPtr)HandleField.GetValue(index)! : IntPtr.Zero;
        return handle != IntPtr.Zero;
    }

    /// <summary>Makes room for <paramref name="capacity"/> vectors (and one add context per hardware thread).</summary>
    public static void Reserve(IntPtr index, ulong capacity)
    {
        usearch_reserve(index, (UIntPtr)capacity, out IntPtr error);
        Check(error, "reserve");
    }

    /// <summary>Adds one float32 vector under <paramref name="key"/>; call only within reserved capacity.</summary>
    public static unsafe void Add(IntPtr index, ulong key, float[] vector)
    {
        fixed (float* data = vector)
        {
            usearch_add(index, key, data, ScalarKind.Float32, out IntPtr error);
            Check(error, "add");
        }
    }

    private static void Check(IntPtr error, string what)
    {
        if (error != IntPtr.Zero)
            throw new KeyEmbedException(ErrorKind.Runtime, $"the USearch index failed to {what}: {Marshal.PtrToStringAnsi(error)}");
    }

    [LibraryImport(Library)]
    private static partial void usearch_reserve(IntPtr index, UIntPtr capacity, out IntPtr error);

    [LibraryImport(Library)]
    private static unsafe partial void usearch_add(IntPtr index, ulong key, float* vector, ScalarKind kind, out IntPtr error);
}
