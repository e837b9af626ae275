using Pantheon.Domain.Tools;

namespace Pantheon.Domain.Projects;

/// <summary>
/// A project's <c>tool_approval</c> setting: which of the agent's tool calls wait for the owner's approval. <c>never</c>
/// (the default), <c>always</c>, or a list of tool names (<see cref="Mode"/> <c>tools</c>).
/// </summary>
public sealed record ToolApproval(string Mode, IReadOnlyList<string> Tools)
{
    public const string Never = "never", Always = "always", Listed = "tools";

    public static readonly ToolApproval None = new(Never, []);

    public const string Expected = "tool_approval must be \"never\", \"always\" or a list of tool names";

    public bool Needs(string tool) => Mode switch
    {
        Always => true,
        Listed => Tools.Contains(tool),
        _ => false,
    };

    /// <summary>
    /// The setting from its JSON form: <c>"never"</c>, <c>"always"</c> or a list of the tools API's tool names
    /// (<see cref="ToolNames.All"/>); or why not.
    /// </summary>
    public static (ToolApproval? Approval, string? Error) From(string? word, IReadOnlyList<string?>? tools)
    {
        if (tools is not null)
        {
            var unknown = tools.Where(t => t is null || !ToolNames.All.Contains(t)).ToList();
            return unknown.Count > 0
                ? (null, $"{Expected}; unknown: {string.Join(", ", unknown.Select(t => t ?? "null"))} "
                    + $"(known: {string.Join(", ", ToolNames.All)}).")
                : (new ToolApproval(Listed, tools.Distinct().Select(t => t!).ToList()), null);
        }
        return word switch
        {
            Never => (None, null),
            Always => (new ToolApproval(Always, []), null),
            _ => (null, Expected + "."),
        };
    }
}

/// <summary>The owner set the project's <see cref="ToolApproval"/> (<paramref name="Tools"/> when the mode is <c>tools</c>).</summary>
public sealed record ToolApprovalChanged(Guid ProjectId, string Mode, string[] Tools, DateTimeOffset At)
{
    public ToolApproval Approval => new(Mode, Tools);
}
