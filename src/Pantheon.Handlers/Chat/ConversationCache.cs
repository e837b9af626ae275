using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Pantheon.Domain.Chat;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Settings;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// What the next turn of a conversation needs (<see cref="ConversationContext"/>), kept in memory so that a returning user's
/// turn reads nothing before it calls the provider. Kept current by the conversation's own events: those this process commits
/// are applied right after their commit (<see cref="ConversationCacheUpdates"/>), in version order, and a gap forgets the
/// conversation; those another process commits are announced by PostgreSQL (<see cref="ConversationNotifier"/>) with their
/// version, and a conversation is served from memory only once it has reached every version announced for it. While the
/// notification connection is down nothing is served, and when it is back everything is forgotten.
/// </summary>
public sealed class ConversationCache(ChatDefaults defaults) : NotifiedMemory<Guid, ConversationCache.Entry>
{
    /// <summary>A conversation's context, and the newest version any process announced for it (served once reached).</summary>
    public sealed record Entry(ConversationContext Context, long Announced)
    {
        public bool Current => Context.Version >= Announced;
    }

    /// <summary>The conversation's context, when memory holds a current one.</summary>
    public bool TryGet(Guid conversationId, [NotNullWhen(true)] out ConversationContext? context)
    {
        context = TryServe(conversationId, out var entry) && entry.Current ? entry.Context : null;
        return context is not null;
    }

    /// <summary>Keeps what a read found, unless a change it may have missed happened since <paramref name="generation"/>.</summary>
    public void Keep(Guid conversationId, ConversationContext context, long generation) =>
        Keep(conversationId, new Entry(context, 0), generation, replace: false); // the commits seen since are newer than this read

    /// <summary>An event this process committed to a conversation; a conversation missing one of its versions is forgotten.</summary>
    public void Committed(Guid conversationId, long version, object data)
    {
        while (Entries.TryGetValue(conversationId, out var entry))
        {
            if (version <= 0 || entry.Context.Version != version - 1)
            {
                Forget(conversationId);
                return;
            }
            var next = entry with { Context = entry.Context.Then(version, data, defaults.HistoryBudgetCharacters) };
            if (Entries.TryUpdate(conversationId, next, entry)) return;
        }
        Changed();
    }

    /// <summary>
    /// A process committed the conversation up to <paramref name="version"/> (0: unknown): memory serves it again once it has
    /// reached that version (this process's own commits get there; another's never do, and the next turn reads it).
    /// </summary>
    public void Announced(Guid conversationId, long version)
    {
        if (version <= 0)
        {
            Forget(conversationId);
            return;
        }
        while (Entries.TryGetValue(conversationId, out var entry))
        {
            if (entry.Announced >= version || Entries.TryUpdate(conversationId, entry with { Announced = version }, entry)) return;
        }
        Changed();
    }

}

/// <summary>Applies the conversation events of this process's commits to <see cref="ConversationCache"/>, right after they commit.</summary>
public sealed class ConversationCacheUpdates(ConversationCache cache) : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        foreach (var e in commit.GetEvents())
            if (ConversationContext.IsConversationEvent(e.Data)) cache.Committed(e.StreamId, e.Version, e.Data);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Inline, so the announcement is sent by the very transaction that appends to a conversation, and only if it commits:
/// <c>{conversation id}:{its newest version}</c> (0 when the append did not state its version).
/// </summary>
public sealed class ConversationNotifier : Marten.Events.Projections.IProjection
{
    public const string Channel = "pantheon_conversations";

    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var stream in events.Where(e => ConversationContext.IsConversationEvent(e.Data)).GroupBy(e => e.StreamId))
        {
            var version = stream.Any(e => e.Version <= 0) ? 0 : stream.Max(e => e.Version);
            operations.QueueSqlCommand("select pg_notify(?, ?)", Channel, Payload(stream.Key, version));
        }
        return Task.CompletedTask;
    }

    public static string Payload(Guid conversationId, long version) =>
        $"{conversationId:N}:{version.ToString(CultureInfo.InvariantCulture)}";
}

/// <summary>Hands the announcements of every process's conversation commits to <see cref="ConversationCache"/>.</summary>
public sealed class ConversationListener(ConversationCache cache) : INotificationListener
{
    public string Channel => ConversationNotifier.Channel;

    public void Notified(string payload)
    {
        var parts = payload.Split(':');
        if (parts.Length == 2 && Guid.TryParse(parts[0], out var id) && long.TryParse(parts[1], CultureInfo.InvariantCulture, out var version))
            cache.Announced(id, version);
    }

    public void Connected() => cache.Resume();

    public void Lost() => cache.Suspend();
}
