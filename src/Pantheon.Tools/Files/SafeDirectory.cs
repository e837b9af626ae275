using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Pantheon.Tools.Files;

/// <summary>
/// Race-safe access below one root directory on Linux: every path part is opened with <c>openat(..., O_NOFOLLOW)</c>
/// relative to the directory opened before it, so a symbolic link anywhere on the path (even one that the VM swaps in
/// between a check and the use) fails the open instead of leading out of the root.
/// </summary>
internal static partial class SafeDirectory
{
    private static readonly bool Arm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;
    private const int ReadOnly = 0, WriteOnly = 1, Create = 0x40, Truncate = 0x200;
    private static int Directory => Arm ? 0x4000 : 0x10000;
    private static int NoFollow => Arm ? 0x8000 : 0x20000;
    private const int CloseOnExec = 0x80000;
    private const int AtRemoveDir = 0x200;
    private const int ELOOP = 40, ENOTDIR = 20, ENOENT = 2, EEXIST = 17;

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAt(int directory, string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "unlinkat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int UnlinkAt(int directory, string path, int flags);

    [LibraryImport("libc", EntryPoint = "mkdirat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MkdirAt(int directory, string path, int mode);

    /// <summary>Opens <paramref name="root"/> itself (it may be reached through links: the operator chose it).</summary>
    public static SafeFileHandle OpenRoot(string root) => Check(OpenAt(-100, root, ReadOnly | Directory | CloseOnExec, 0), "");

    /// <summary>The directory <paramref name="parts"/> names under <paramref name="root"/>, never through a link.</summary>
    public static SafeFileHandle OpenDirectory(SafeFileHandle root, IEnumerable<string> parts, bool create = false)
    {
        var current = Duplicate(root);
        foreach (var part in parts)
        {
            if (create && MkdirAt(Fd(current), part, 0b111_101_101) != 0 && Marshal.GetLastPInvokeError() != EEXIST)
                throw Failure(Marshal.GetLastPInvokeError(), part);
            var next = OpenAt(Fd(current), part, ReadOnly | Directory | NoFollow | CloseOnExec, 0);
            var errno = Marshal.GetLastPInvokeError();
            // O_DIRECTORY answers ENOTDIR for a link too: say which it was.
            if (next < 0 && errno == ENOTDIR && new FileInfo(Path.Combine(PathOf(current), part)).LinkTarget is not null) errno = ELOOP;
            current.Dispose();
            current = next >= 0 ? new SafeFileHandle(next, ownsHandle: true) : throw Failure(errno, part);
        }
        return current;
    }

    public static FileStream OpenRead(SafeFileHandle directory, string name) =>
        new(Check(OpenAt(Fd(directory), name, ReadOnly | NoFollow | CloseOnExec, 0), name), FileAccess.Read);

    /// <summary>Creates or truncates a regular file, world-readable so that the project's file server can serve it.</summary>
    public static FileStream OpenWrite(SafeFileHandle directory, string name) =>
        new(Check(OpenAt(Fd(directory), name, WriteOnly | Create | Truncate | NoFollow | CloseOnExec, 0b110_100_100), name), FileAccess.Write);

    /// <summary>Removes a file (a link itself, never what it points at) or an empty directory.</summary>
    public static void Delete(SafeFileHandle directory, string name, bool isDirectory)
    {
        if (UnlinkAt(Fd(directory), name, isDirectory ? AtRemoveDir : 0) != 0) throw Failure(Marshal.GetLastPInvokeError(), name);
    }

    /// <summary>A path to the opened directory itself (the kernel's link to the open handle, not to a name that may change).</summary>
    public static string PathOf(SafeFileHandle directory) => $"/proc/self/fd/{Fd(directory)}";

    private static SafeFileHandle Duplicate(SafeFileHandle handle) => Check(OpenAt(Fd(handle), ".", ReadOnly | Directory | CloseOnExec, 0), ".");

    private static int Fd(SafeFileHandle handle) => (int)handle.DangerousGetHandle();

    private static SafeFileHandle Check(int fd, string part) =>
        fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw Failure(Marshal.GetLastPInvokeError(), part);

    private static Exception Failure(int errno, string part) => errno switch
    {
        ELOOP => new FileToolException($"'{part}' is a symbolic link: links are not followed in the shared folder"),
        ENOTDIR => new FileToolException($"'{part}' is not a directory"),
        ENOENT => new FileToolException($"'{part}' does not exist"),
        _ => new FileToolException($"'{part}': {Marshal.GetPInvokeErrorMessage(errno)}"),
    };
}

/// <summary>A file tool refused or failed; its message goes to the caller as the tool's error.</summary>
public sealed class FileToolException(string message) : Exception(message);
