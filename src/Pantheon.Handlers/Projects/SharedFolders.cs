using System.Security.Cryptography;
using System.Text;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Keys;

namespace Pantheon.Handlers.Projects;

/// <summary>The per-project shared folder and the MCP configuration the VM reads from it.</summary>
public sealed class SharedFolders(ProjectSettings settings, MasterSecret secret)
{
    /// <summary>Writes <c>.env</c> (atomically, so the file server never serves half a file); returns the folder.</summary>
    public string Prepare(Guid projectId, Subnet subnet)
    {
        var folder = settings.FolderFor(projectId);
        // Readable by the file server's unprivileged user whatever the backend's umask; written by the backend only.
        const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode listable = readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        Directory.CreateDirectory(folder);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(folder, listable); // chmod: the umask does not apply
        var env = new StringBuilder()
            .Append("MCP_TOOLS_API_URL=").AppendLine(subnet.ToolsApiUrl)
            .Append("PROJECT_ID=").AppendLine(projectId.ToString())
            .Append("MCP_PROJECT_SECRET=").AppendLine(ProjectSecret(projectId))
            .Append("SHARED_FOLDER_URL=").AppendLine(subnet.SharedFolderUrl)
            .ToString();
        var temporary = Path.Combine(folder, $".env.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temporary, env);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(temporary, readable);
        File.Move(temporary, Path.Combine(folder, ".env"), overwrite: true);
        return folder;
    }

    public void Remove(Guid projectId)
    {
        var folder = settings.FolderFor(projectId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
    }

    /// <summary>HMAC-SHA256 of the project id under the master secret: unique per project, never the master secret.</summary>
    public string ProjectSecret(Guid projectId) =>
        Convert.ToHexString(HMACSHA256.HashData(secret.Bytes, Encoding.UTF8.GetBytes($"pantheon/mcp-project/v1:{projectId}"))).ToLowerInvariant();
}
