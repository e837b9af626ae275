namespace Pantheon.Domain.Projects;

/// <summary>
/// A tool of the project's MCP tools API was called. <paramref name="Arguments"/> is the call's JSON arguments as they may
/// be kept: secrets redacted, file contents reduced to their size (see <see cref="Tools.ToolRules.RecordedArguments"/>).
/// </summary>
public sealed record ToolCalled(Guid ProjectId, Guid CallId, string Tool, string Arguments, DateTimeOffset At);

/// <summary>
/// The call answered: a one-line <paramref name="Summary"/> (never the screenshot or a file's content), or the
/// <paramref name="Error"/> the caller was given.
/// </summary>
public sealed record ToolReturned(Guid ProjectId, Guid CallId, string Tool, string? Summary, string? Error, long DurationMs, DateTimeOffset At);
