using System.ComponentModel;
using System.Text;
using System.Text.Json;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Pantheon.Domain.Tools;
using Pantheon.Tools.Files;
using Pantheon.Tools.Projects;
using Pantheon.Tools.Screen;

namespace Pantheon.Tools.Mcp;

/// <summary>
/// The tools of one project's MCP server: the project is the request's (<see cref="ProjectAuthentication"/>), never an
/// argument. A refusal or failure is a tool error (<c>isError</c>) whose text says why.
/// </summary>
[McpServerToolType]
public sealed class ProjectTools(
    IHttpContextAccessor http, SharedFolderFiles files, VmScreen screen, ProjectDirectory directory, ToolsSettings settings)
{
    private ToolProject Project => ToolCallerContext.Get(http.HttpContext);

    [McpServerTool(Name = ToolNames.Screenshot, ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("A PNG screenshot of the VM's screen.")]
    public Task<CallToolResult> Screenshot(CancellationToken ct) => Guard(async () =>
    {
        var shot = await screen.CaptureAsync(Project, ct);
        return Result($"{shot.Width}x{shot.Height} screenshot, {shot.Png.Length} bytes of PNG", ImageContentBlock.FromBytes(shot.Png, "image/png"));
    });

    [McpServerTool(Name = ToolNames.MouseMove, OpenWorld = false)]
    [Description("Moves the mouse pointer to (x, y) in screen pixels, from the top left corner.")]
    public Task<CallToolResult> MouseMove([Description("pixels from the left edge")] int x, [Description("pixels from the top edge")] int y,
        CancellationToken ct) => Guard(async () =>
    {
        await screen.MoveAsync(Project, x, y, ct);
        return Result($"pointer at ({x}, {y})");
    });

    [McpServerTool(Name = ToolNames.MouseClick, OpenWorld = false)]
    [Description("Clicks at (x, y) in screen pixels with a mouse button; double clicks when double is true.")]
    public Task<CallToolResult> MouseClick(int x, int y, [Description("left, middle or right")] string button = "left",
        [Description("a double click")] bool @double = false, CancellationToken ct = default) => Guard(async () =>
    {
        await screen.ClickAsync(Project, x, y, button, @double, ct);
        return Result($"{(@double ? "double " : "")}{button} click at ({x}, {y})");
    });

    [McpServerTool(Name = ToolNames.TypeText, OpenWorld = false)]
    [Description("Types text on the VM's keyboard, as if typed by a person; a newline presses Enter.")]
    public Task<CallToolResult> TypeText(string text, CancellationToken ct) => Guard(async () =>
    {
        if (string.IsNullOrEmpty(text)) throw new McpException("text is required");
        if (text.Length > settings.MaxTypeTextCharacters)
            throw new McpException($"text is {text.Length} characters, over the {settings.MaxTypeTextCharacters} Tools:MaxTypeTextCharacters allows");
        await screen.TypeAsync(Project, text, ct);
        return Result($"typed {text.Length} characters");
    });

    [McpServerTool(Name = ToolNames.KeyPress, OpenWorld = false)]
    [Description("Presses a key or a key combination, such as 'Return', 'ctrl+c', 'alt+F4' or 'ctrl+shift+t'.")]
    public Task<CallToolResult> KeyPress([Description("keys joined with '+'")] string keys, CancellationToken ct) => Guard(async () =>
    {
        var (parsed, error) = KeySyms.ParseCombination(keys);
        if (error is not null) throw new McpException(error);
        await screen.PressAsync(Project, parsed, ct);
        return Result($"pressed {keys}");
    });

    [McpServerTool(Name = ToolNames.ListFiles, ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Lists a directory of the project's shared folder (the VM's /shared); the folder itself by default.")]
    public Task<CallToolResult> ListFiles([Description("a path relative to the shared folder")] string path = "") => Guard(() =>
    {
        var entries = files.List(Project.Id, path, out var truncated);
        var json = JsonSerializer.Serialize(new { path, entries, truncated }, ToolsJson.Options);
        return Task.FromResult(Result(json));
    });

    [McpServerTool(Name = ToolNames.ReadFile, ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("Reads a file of the shared folder: UTF-8 text as it is, anything else as base64 (the answer says which).")]
    public Task<CallToolResult> ReadFile([Description("a path relative to the shared folder")] string path) => Guard(() =>
    {
        var bytes = files.Read(Project.Id, path);
        var content = SharedFolderFiles.Decode(bytes, out var encoding);
        return Task.FromResult(Result(JsonSerializer.Serialize(new { path, encoding, size = bytes.Length, content }, ToolsJson.Options)));
    });

    [McpServerTool(Name = ToolNames.WriteFile, Destructive = true, Idempotent = true, OpenWorld = false)]
    [Description("Writes a file of the shared folder, creating its directories; replaces a file that exists.")]
    public Task<CallToolResult> WriteFile([Description("a path relative to the shared folder")] string path, string content,
        [Description("utf-8 (default) or base64")] string encoding = "utf-8") => Guard(() =>
    {
        byte[] bytes;
        if (encoding == "utf-8") bytes = Encoding.UTF8.GetBytes(content ?? "");
        else if (encoding == "base64")
        {
            try { bytes = Convert.FromBase64String(content ?? ""); }
            catch (FormatException) { throw new McpException("content is not valid base64"); }
        }
        else throw new McpException($"encoding must be utf-8 or base64, not '{encoding}'");
        files.Write(Project.Id, path, bytes);
        return Task.FromResult(Result($"wrote {bytes.Length} bytes to {path}"));
    });

    [McpServerTool(Name = ToolNames.DeleteFile, Destructive = true, OpenWorld = false)]
    [Description("Deletes a file, a link or an empty directory of the shared folder.")]
    public Task<CallToolResult> DeleteFile([Description("a path relative to the shared folder")] string path) => Guard(() =>
    {
        files.Delete(Project.Id, path);
        return Task.FromResult(Result($"deleted {path}"));
    });

    [McpServerTool(Name = ToolNames.ProjectInfo, ReadOnly = true, Idempotent = true, OpenWorld = false)]
    [Description("The project's name, status and addresses.")]
    public Task<CallToolResult> ProjectInfo(CancellationToken ct) => Guard(async () =>
    {
        // Read past the directory's cache: a status that changed within its time (a VM just ready) is reported as it is now.
        var p = await directory.CurrentAsync(Project.Id, ct)
            ?? throw new McpException("the project is no longer live: it failed or is being deleted");
        var info = new
        {
            project_id = p.Id, name = p.Name, status = p.Status.ToString().ToLowerInvariant(), subnet = p.Subnet.Cidr,
            vm_address = p.VmAddress, tools_api_url = p.Subnet.ToolsApiUrl, shared_folder_url = p.Subnet.SharedFolderUrl,
        };
        return Result(JsonSerializer.Serialize(info, ToolsJson.Options));
    });

    private static CallToolResult Result(string text, ContentBlock? extra = null) =>
        new() { Content = extra is null ? [new TextContentBlock { Text = text }] : [extra, new TextContentBlock { Text = text }] };

    /// <summary>Refusals of the tools become tool errors whose message the caller reads (other exceptions stay failures).</summary>
    private static async Task<CallToolResult> Guard(Func<Task<CallToolResult>> tool)
    {
        try
        {
            return await tool();
        }
        catch (Exception e) when (e is FileToolException or ScreenToolException)
        {
            throw new McpException(e.Message, e);
        }
    }
}

public static class ToolsJson
{
    public static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}
