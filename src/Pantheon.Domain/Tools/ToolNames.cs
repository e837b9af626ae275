namespace Pantheon.Domain.Tools;

/// <summary>
/// The names of the tools API's MCP tools (<c>src/Pantheon.Tools</c>): its tools are declared with these, and a project's
/// <c>tool_approval</c> list may name only these. A test holds the server's registered tools to <see cref="All"/>.
/// </summary>
public static class ToolNames
{
    public const string Screenshot = "screenshot", MouseMove = "mouse_move", MouseClick = "mouse_click", TypeText = "type_text",
        KeyPress = "key_press", ListFiles = "list_files", ReadFile = "read_file", WriteFile = "write_file", DeleteFile = "delete_file",
        ProjectInfo = "project_info";

    public static readonly IReadOnlyList<string> All =
        [Screenshot, MouseMove, MouseClick, TypeText, KeyPress, ListFiles, ReadFile, WriteFile, DeleteFile, ProjectInfo];
}
