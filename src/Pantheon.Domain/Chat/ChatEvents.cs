namespace Pantheon.Domain.Chat;

/// <summary>The user's message, recorded before any provider is called.</summary>
public sealed record MessageSent(Guid ConversationId, Guid MessageId, string UserId, Guid? ProjectId, string Content, string Model, DateTimeOffset At);

/// <summary>The provider's reply; <see cref="Interrupted"/> when the client left mid-stream and only part arrived.</summary>
public sealed record ReplyReceived(
    Guid ConversationId, Guid MessageId, string Text, string Model, string? FinishReason, long TokensIn, long TokensOut, long LatencyMs,
    bool Interrupted, DateTimeOffset At);

/// <summary>The provider refused or did not answer.</summary>
public sealed record ReplyFailed(Guid ConversationId, Guid MessageId, string Model, int? ProviderStatus, string Message, DateTimeOffset At);

/// <summary>
/// The turn was left without an outcome: the backend process that ran it died mid-reply, and no reply or failure was
/// recorded within the chat's time limit. What the provider had sent by then is not known.
/// </summary>
public sealed record ReplyInterrupted(Guid ConversationId, Guid MessageId, string Model, string Reason, DateTimeOffset At);

/// <summary>Tokens spent on one reply, by whom, with which provider, model and key (null: the system's key or none).</summary>
public sealed record UsageRecorded(string UserId, string Provider, string Model, Guid? KeyId, long TokensIn, long TokensOut, DateTimeOffset At);

/// <summary>The user cleared the conversation; earlier turns are no longer sent or shown.</summary>
public sealed record ChatCleared(Guid ConversationId, string UserId, DateTimeOffset At);

/// <summary>
/// A user's own OpenAI-compatible model; <see cref="InputModalities"/> what the user declared it takes (<c>text</c>, <c>image</c>),
/// null when they declared nothing (and in every event recorded before the declaration existed).
/// </summary>
public sealed record CustomModelAdded(
    Guid Id, string UserId, string ModelId, string Provider, string Endpoint, Guid? KeyId, Dictionary<string, System.Text.Json.JsonElement>? Parameters,
    DateTimeOffset At, string[]? InputModalities = null);

public sealed record CustomModelRemoved(Guid Id, string UserId, DateTimeOffset At);
