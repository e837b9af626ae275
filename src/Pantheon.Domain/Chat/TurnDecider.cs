using Pantheon.Domain.Settings;

namespace Pantheon.Domain.Chat;

/// <summary>A message for a conversation, as the user sent it (already validated).</summary>
public sealed record SendMessage(
    string UserId, string Message, Guid? ProjectId, string? Model, ModelParameters? Parameters, bool Tools = false);

/// <summary>
/// A user's own OpenAI-compatible model, as a turn may route to it; <see cref="InputModalities"/> what its user declared it takes
/// (null: not declared).
/// </summary>
public sealed record CustomModel(
    string ModelId, string Endpoint, Guid? KeyId, ModelParameters Parameters, IReadOnlyList<string>? InputModalities = null);

/// <summary>A user's provider key whose secret still exists (revoking destroys it).</summary>
public sealed record UsableKey(Guid Id, string Provider, DateTimeOffset CreatedAt);

/// <summary>What a turn decides from, read in one batch before it.</summary>
public sealed record TurnState(
    Guid ConversationId, long Version, bool ProjectIsTheirs, string? PreferredModel, ModelParameters? SavedParameters,
    IReadOnlyList<CustomModel> CustomModels, IReadOnlyList<UsableKey> Keys, IReadOnlySet<string> ProvidersWithSystemKey,
    IReadOnlyList<ChatTurn> EarlierTurns);

/// <summary>The <c>Chat</c> settings a decision depends on.</summary>
public sealed record TurnRules(string DefaultModel, int HistoryBudgetCharacters);

/// <summary>
/// Where the call goes: a built-in provider (<see cref="Endpoint"/> null) or a user's endpoint (provider <c>custom</c>).
/// <see cref="KeyId"/> null is the system's key for a provider, or no key for an endpoint. <see cref="InputModalities"/>: what a
/// custom model's user declared it takes (null: not declared, or not a custom model).
/// </summary>
public sealed record TurnTarget(
    string Provider, string Model, string? Endpoint, Guid? KeyId, IReadOnlyList<string>? InputModalities = null);

/// <summary>A turn that may go ahead: what to send, where, and the conversation it belongs to.</summary>
public sealed record Turn(
    Guid ConversationId, Guid MessageId, string UserId, string ModelId, TurnTarget Target, ModelParameters Parameters,
    IReadOnlyList<ChatTurn> Context, string Message)
{
    public const string CustomProvider = "custom";
}

public enum RefusalReason { ProjectNotFound, CustomModelKeyRevoked, NoKey, ToolsUnavailable }

public abstract record TurnDecision;

public sealed record TurnRefused(RefusalReason Reason, string Detail, string? Provider = null) : TurnDecision;

public sealed record TurnPlanned(Turn Turn, MessageSent Sent) : TurnDecision;

/// <summary>How a reply ended: all of it, cut at the size limit, or cut short by the client leaving.</summary>
public enum ReplyEnd { Complete, Truncated, Interrupted }

/// <summary>What came back from the provider.</summary>
public sealed record Reply(string Text, string? FinishReason, long TokensIn, long TokensOut, long LatencyMs, ReplyEnd End);

/// <summary>The pure rules of a chat turn: route, key, parameters, context, and the events each outcome records.</summary>
public static class TurnDecider
{
    /// <summary>
    /// The model is the message's, else the user's preferred one, else the default. A user's own model is matched
    /// by id first; any other id routes by its provider prefix and takes the user's newest key for that provider,
    /// else the system's. Parameters: the message's, else the custom model's, else the user's saved ones.
    /// </summary>
    public static TurnDecision Plan(SendMessage message, TurnState state, TurnRules rules, Guid messageId, DateTimeOffset now)
    {
        if (!state.ProjectIsTheirs) return new TurnRefused(RefusalReason.ProjectNotFound, "The project does not exist.");

        var modelId = message.Model ?? state.PreferredModel ?? rules.DefaultModel;
        var saved = state.SavedParameters ?? UserSettings.DefaultParameters;
        TurnTarget target;
        if (state.CustomModels.FirstOrDefault(m => m.ModelId == modelId) is { } custom)
        {
            if (custom.KeyId is { } id && state.Keys.All(k => k.Id != id))
                return new TurnRefused(RefusalReason.CustomModelKeyRevoked, $"The key of custom model '{modelId}' was revoked.");
            target = new TurnTarget(Turn.CustomProvider, custom.ModelId, custom.Endpoint, custom.KeyId, custom.InputModalities);
            saved = custom.Parameters.Over(saved);
        }
        else
        {
            var route = ModelRoute.For(modelId);
            var key = state.Keys.Where(k => k.Provider == route.Provider).MaxBy(k => k.CreatedAt);
            if (key is null && !state.ProvidersWithSystemKey.Contains(route.Provider))
                return new TurnRefused(RefusalReason.NoKey,
                    $"There is no API key for provider '{route.Provider}': add one under /api/user/api-keys.", route.Provider);
            target = new TurnTarget(route.Provider, route.Model, null, key?.Id);
        }

        var parameters = (message.Parameters ?? new ModelParameters()).Over(saved); // the message's, its model's, the user's
        var context = ChatTurn.Context(state.EarlierTurns, rules.HistoryBudgetCharacters);
        var turn = new Turn(state.ConversationId, messageId, message.UserId, modelId, target, parameters, context, message.Message);
        var sent = new MessageSent(state.ConversationId, messageId, message.UserId, message.ProjectId, message.Message, modelId, now);
        return new TurnPlanned(turn, sent);
    }

    /// <summary>The reply and the tokens it cost, tied to the turn's message.</summary>
    public static object[] Replied(Turn turn, Reply reply, DateTimeOffset now)
    {
        var finish = reply.End switch
        {
            ReplyEnd.Interrupted => ChatTurn.Interrupted,
            ReplyEnd.Truncated => ChatTurn.Truncated,
            _ => reply.FinishReason,
        };
        return
        [
            new ReplyReceived(turn.ConversationId, turn.MessageId, reply.Text, turn.ModelId, finish, reply.TokensIn, reply.TokensOut,
                reply.LatencyMs, reply.End == ReplyEnd.Interrupted, now),
            new UsageRecorded(turn.UserId, turn.Target.Provider, turn.ModelId, turn.Target.KeyId, reply.TokensIn, reply.TokensOut, now),
        ];
    }

    /// <summary>
    /// A turn sent at <paramref name="sentAt"/> with no outcome yet is abandoned once it is older than the longest a reply
    /// may take plus a margin: a live process records an outcome within the limit, so such a turn's process died. An agent
    /// turn passes the time its next step was due from instead (<see cref="AgentDecider.ActiveAt"/>): each step is bounded.
    /// </summary>
    public static bool IsAbandoned(DateTimeOffset sentAt, DateTimeOffset now, TimeSpan maxReply, TimeSpan margin) =>
        now - sentAt > maxReply + margin;

    /// <summary>The outcome of an abandoned turn (see <see cref="IsAbandoned"/>).</summary>
    public static ReplyInterrupted Abandoned(Guid conversationId, Guid messageId, string model, DateTimeOffset now) =>
        new(conversationId, messageId, model, "The backend process running the reply stopped before it ended.", now);

    /// <summary>The provider refused, broke or did not answer in time.</summary>
    public static object[] Failed(Turn turn, int? providerStatus, string message, DateTimeOffset now) =>
        [new ReplyFailed(turn.ConversationId, turn.MessageId, turn.ModelId, providerStatus, message, now)];
}
