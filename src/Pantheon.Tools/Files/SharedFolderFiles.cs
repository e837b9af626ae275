using System.Text;
using Pantheon.Domain.Tools;
using Pantheon.Handlers.Projects;

namespace Pantheon.Tools.Files;

/// <summary>One entry of a listing.</summary>
public sealed record FileEntry(string Name, string Kind, long Size, DateTimeOffset Modified);

/// <summary>
/// The file tools: list, read, write and delete inside a project's shared folder only. Paths are checked by
/// <see cref="ToolRules.SplitPath"/> and then walked without following any link (<see cref="SafeDirectory"/>).
/// </summary>
public sealed class SharedFolderFiles(ProjectSettings projects, ToolsSettings settings)
{
    public IReadOnlyList<FileEntry> List(Guid projectId, string? path, out bool truncated)
    {
        var parts = Parts(path, allowRoot: true);
        using var root = SafeDirectory.OpenRoot(Root(projectId));
        using var directory = SafeDirectory.OpenDirectory(root, parts);
        var info = new DirectoryInfo(SafeDirectory.PathOf(directory));
        var entries = new List<FileEntry>();
        truncated = false;
        foreach (var entry in info.EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            if (entries.Count == settings.MaxListEntries)
            {
                truncated = true;
                break;
            }
            var kind = entry.LinkTarget is not null ? "link" : entry is DirectoryInfo ? "directory" : "file";
            entries.Add(new FileEntry(entry.Name, kind, entry is FileInfo f && kind == "file" ? f.Length : 0, entry.LastWriteTimeUtc));
        }
        return entries;
    }

    /// <summary>The file's bytes, refused over <see cref="ToolsSettings.MaxReadBytes"/>.</summary>
    public byte[] Read(Guid projectId, string? path)
    {
        var parts = Parts(path);
        using var root = SafeDirectory.OpenRoot(Root(projectId));
        using var directory = SafeDirectory.OpenDirectory(root, parts.SkipLast(1));
        using var stream = SafeDirectory.OpenRead(directory, parts[^1]);
        if (stream.Length > settings.MaxReadBytes)
            throw new FileToolException($"'{path}' is {stream.Length} bytes, over the {settings.MaxReadBytes} bytes Tools:MaxReadBytes allows");
        var buffer = new byte[stream.Length];
        stream.ReadExactly(buffer);
        return buffer;
    }

    /// <summary>Writes the file (parents made as needed); refused over <see cref="ToolsSettings.MaxWriteBytes"/>.</summary>
    public void Write(Guid projectId, string? path, byte[] content)
    {
        if (content.LongLength > settings.MaxWriteBytes)
            throw new FileToolException($"the content is {content.LongLength} bytes, over the {settings.MaxWriteBytes} bytes Tools:MaxWriteBytes allows");
        var parts = Parts(path);
        using var root = SafeDirectory.OpenRoot(Root(projectId));
        using var directory = SafeDirectory.OpenDirectory(root, parts.SkipLast(1), create: true);
        using var stream = SafeDirectory.OpenWrite(directory, parts[^1]);
        stream.Write(content);
    }

    public void Delete(Guid projectId, string? path)
    {
        var parts = Parts(path);
        using var root = SafeDirectory.OpenRoot(Root(projectId));
        using var directory = SafeDirectory.OpenDirectory(root, parts.SkipLast(1));
        var isDirectory = Directory.Exists(Path.Combine(SafeDirectory.PathOf(directory), parts[^1]))
            && new DirectoryInfo(Path.Combine(SafeDirectory.PathOf(directory), parts[^1])).LinkTarget is null;
        SafeDirectory.Delete(directory, parts[^1], isDirectory);
    }

    public static string Decode(byte[] bytes, out string encoding)
    {
        try
        {
            encoding = "utf-8";
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            encoding = "base64";
            return Convert.ToBase64String(bytes);
        }
    }

    private string Root(Guid projectId) => projects.FolderFor(projectId);

    private static IReadOnlyList<string> Parts(string? path, bool allowRoot = false)
    {
        var (parts, error) = ToolRules.SplitPath(path, allowRoot);
        return error is null ? parts : throw new FileToolException(error);
    }
}
