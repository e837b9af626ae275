using System.Collections.Concurrent;
using JasperFx.Events;
using Marten;
using Marten.Services;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Keys;

namespace Pantheon.Handlers.Chat;

/// <summary>What a chat turn needs of the user's own configuration: settings, custom models, keys and their secrets.</summary>
public sealed record ChatSetup(UserSettings? Settings, IReadOnlyList<CustomModelView> Models, UserKeys Keys);

/// <summary>
/// A user's <see cref="ChatSetup"/>, kept in memory between turns so that a chat reads only its conversation. The user's
/// own events evict it: in this process right after they commit (<see cref="ChatSetupInvalidation"/>), in every other
/// process when PostgreSQL delivers the notification the same commit sent (<see cref="ChatSetupListener"/>). While that
/// connection is down nothing is kept (every turn reads its setup), and when it is back everything is forgotten, since
/// evictions sent meanwhile never arrived. Entries also expire after <see cref="Lifetime"/>.
/// </summary>
public sealed class ChatSetupCache(TimeProvider time)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private const int MaxEntries = 10_000;

    private sealed record Entry(ChatSetup Setup, DateTimeOffset Expires);

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    // Bumped by every eviction: a load that began before one must not store what it read.
    private long _generation;

    // While the notification connection is down, evictions cannot arrive: nothing is served from memory.
    private volatile bool _suspended = true; // until the connection is first made

    /// <summary>The user's setup from memory, else read through <paramref name="session"/> and kept.</summary>
    public async ValueTask<ChatSetup> GetAsync(string userId, IQuerySession session, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        if (!_suspended && _entries.TryGetValue(userId, out var cached) && cached.Expires > now) return cached.Setup;

        var generation = Interlocked.Read(ref _generation);
        var setup = await LoadAsync(userId, session, ct);
        if (_suspended) return setup;
        if (_entries.Count >= MaxEntries) _entries.Clear();
        var entry = new Entry(setup, now + Lifetime);
        _entries[userId] = entry;
        // An eviction that ran while we read may have missed our entry: drop it if one did.
        if (Interlocked.Read(ref _generation) != generation) _entries.TryRemove(new KeyValuePair<string, Entry>(userId, entry));
        return setup;
    }

    public void Evict(string userId)
    {
        Interlocked.Increment(ref _generation);
        _entries.TryRemove(userId, out _);
    }

    /// <summary>Forgets everyone.</summary>
    public void Clear()
    {
        Interlocked.Increment(ref _generation);
        _entries.Clear();
    }

    /// <summary>The notification connection broke: serve nothing from memory until <see cref="Resume"/>.</summary>
    public void Suspend()
    {
        _suspended = true;
        Clear();
    }

    /// <summary>The notification connection is back: forget what was kept (evictions may have been missed) and keep again.</summary>
    public void Resume()
    {
        Clear();
        _suspended = false;
    }

    private static async Task<ChatSetup> LoadAsync(string userId, IQuerySession session, CancellationToken ct)
    {
        var batch = session.CreateBatchQuery();
        var settings = batch.Load<UserSettings>(UserId.SettingsStreamFor(userId));
        var models = batch.Query<CustomModelView>().Where(m => m.UserId == userId).ToList();
        var keys = batch.Query<ProviderKeyView>().Where(k => k.UserId == userId).ToList();
        var secrets = batch.Query<ProviderKeySecret>().Where(k => k.UserId == userId).ToList();
        await batch.Execute(ct);
        return new ChatSetup(await settings, await models, new UserKeys(userId, await keys, await secrets));
    }

    /// <summary>The user whose setup the event changes, or null.</summary>
    public static string? UserChangedBy(object data) => data switch
    {
        SettingsChanged e => e.UserId,
        KeyAdded e => e.UserId,
        KeyRevoked e => e.UserId,
        CustomModelAdded e => e.UserId,
        CustomModelRemoved e => e.UserId,
        _ => null,
    };
}

/// <summary>Evicts a user's setup in this process as soon as a session that changed it commits.</summary>
public sealed class ChatSetupInvalidation(ChatSetupCache cache) : DocumentSessionListenerBase
{
    public override Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
    {
        foreach (var e in commit.GetEvents())
            if (ChatSetupCache.UserChangedBy(e.Data) is { } user) cache.Evict(user);
        return Task.CompletedTask;
    }
}

/// <summary>Inline, so the notification is sent by the very transaction that changes a user's setup, and only if it commits.</summary>
public sealed class ChatSetupNotifier : Marten.Events.Projections.IProjection
{
    public const string Channel = "pantheon_chat_setup";

    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var user in events.Select(e => ChatSetupCache.UserChangedBy(e.Data)).OfType<string>().Distinct())
            operations.QueueSqlCommand("select pg_notify(?, ?)", Channel, user);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Evicts setups that other backend processes changed, from PostgreSQL's notifications; after the notification connection
/// was lost and made again it forgets every setup, since evictions sent meanwhile never arrived.
/// </summary>
public sealed class ChatSetupListener(ChatSetupCache cache) : INotificationListener
{
    public string Channel => ChatSetupNotifier.Channel;

    public void Notified(string payload) => cache.Evict(payload);

    public void Connected() => cache.Resume();

    public void Lost() => cache.Suspend();
}
