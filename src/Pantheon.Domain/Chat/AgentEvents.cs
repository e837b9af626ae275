namespace Pantheon.Domain.Chat;

/// <summary>
/// The model asked, in <paramref name="Round"/> of an agent turn, for a tool of the project's tools API.
/// <paramref name="CallId"/> is ours (the approval route's id); <paramref name="ProviderCallId"/> the model's.
/// <paramref name="Arguments"/> as they may be kept (secrets redacted, contents reduced to their size).
/// </summary>
public sealed record ToolCallRequested(
    Guid ConversationId, Guid MessageId, Guid CallId, string ProviderCallId, int Round, string Tool, string Arguments, DateTimeOffset At);

/// <summary>The call waits for the owner's approval (<c>POST /api/chat/approvals/{call_id}</c>) until <paramref name="ExpiresAt"/>.</summary>
public sealed record ToolApprovalRequested(
    Guid ConversationId, Guid MessageId, Guid CallId, string Tool, string Arguments, DateTimeOffset ExpiresAt, DateTimeOffset At);

/// <summary>The approval's end: <see cref="ApprovalAnswers"/> <c>approved</c>, <c>refused</c> or <c>expired</c>.</summary>
public sealed record ToolApprovalAnswered(Guid ConversationId, Guid MessageId, Guid CallId, string Tool, string Answer, DateTimeOffset At);

/// <summary>
/// What went back to the model for the call: the tool's result (<paramref name="Summary"/>: its text, shortened, never an
/// image), its error, or why it did not run (refused, expired).
/// </summary>
public sealed record ToolResultReceived(
    Guid ConversationId, Guid MessageId, Guid CallId, string Tool, string Summary, bool IsError, long DurationMs, DateTimeOffset At);

public static class ApprovalAnswers
{
    public const string Approved = "approved", Refused = "refused", Expired = "expired";
}
