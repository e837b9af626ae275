using JasperFx;
using Marten;
using Marten.Exceptions;
using Pantheon.Handlers.Infrastructure;

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

    public async Task AppendAsync(object[] events, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            await using var session = await sessions.ForAsync(new DatabaseActor.User(userId), ct);
            session.CorrelationId = correlationId;
            session.LastModifiedBy = userId;
            if (_version == 0) session.Events.StartStream(conversationId, events);
            else session.Events.Append(conversationId, _version + events.Length, events);
            try
            {
                await session.SaveChangesAsync(ct);
                _version += events.Length;
                return;
            }
            catch (Exception e) when (IsLostRace(e) && attempt < MaxAttempts)
            {
                // Another message of this conversation committed first: go after it.
                _version = (await session.Events.FetchStreamStateAsync(conversationId, ct))?.Version ?? 0;
                await Task.Delay(Random.Shared.Next(1, 3 * attempt), ct); // jitter, so retrying writers spread out
            }
        }
    }

    private static bool IsLostRace(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is ConcurrencyException or ExistingStreamIdCollisionException) return true;
        return false;
    }
}
