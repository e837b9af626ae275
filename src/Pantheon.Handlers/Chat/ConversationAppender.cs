using JasperFx;
using Marten;
using Marten.Exceptions;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Projections.Chat;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// Appends one turn's events to its conversation, on sessions that carry the user (the events' <c>user_name</c>) and
/// the turn's one correlation id. Every append states the version it expects, so the conversation has one order
/// whichever backend process writes; a writer that lost the race reads the new version and appends again.
/// </summary>
internal sealed class ConversationAppender(ActorSessions sessions, Guid conversationId, string userId, string correlationId, long version)
{
    private const int MaxAttempts = 50;
    private long _version = version;

    /// <summary>
    /// Appends <paramref name="events"/>; when they are the outcome of the turn of message <paramref name="closes"/>, they
    /// are dropped (false) if the turn was closed meanwhile (the abandoned-turn sweeper recorded it as interrupted), so a
    /// turn never has two outcomes.
    /// </summary>
    public async Task<bool> AppendAsync(object[] events, CancellationToken ct, Guid? closes = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var session = await sessions.ForAsync(new DatabaseActor.User(userId), ct, once: true);
            if (attempt > 1)
            {
                // Another message of this conversation committed first: go after it, unless it closed this turn. The version
                // is read before the turn, so an outcome committed between the two reads is seen in the second. Read in a new
                // session: the failed commit ended the transaction that carried the user.
                _version = (await session.Events.FetchStreamStateAsync(conversationId, ct))?.Version ?? 0;
                if (closes is { } message && await session.LoadAsync<ChatTurnView>(ChatTurnView.ReplyId(message), ct) is not null)
                    return false;
            }
            session.CorrelationId = correlationId;
            session.LastModifiedBy = userId;
            if (_version == 0) session.Events.StartStream(conversationId, events);
            else session.Events.Append(conversationId, _version + events.Length, events);
            try
            {
                await session.SaveChangesAsync(ct);
                _version += events.Length;
                return true;
            }
            catch (Exception e) when (IsLostRace(e) && attempt < MaxAttempts)
            {
                await Task.Delay(Random.Shared.Next(1, 3 * attempt), ct); // jitter, so retrying writers spread out
            }
        }
    }

    internal static bool IsLostRace(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is ConcurrencyException or ExistingStreamIdCollisionException) return true;
        return false;
    }
}
