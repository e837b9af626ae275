using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using JasperFx.Events;
using Marten;
using Marten.Services.BatchQuerying;
using Marten.Services;
using Pantheon.Domain.Budgets;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Keys;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// What a chat turn needs of the user's own configuration: settings, custom models, keys and their secrets, and whether
/// a monthly budget is in force for them (their own or the default): without one a turn needs no reservation.
/// </summary>
public sealed record ChatSetup(UserSettings? Settings, IReadOnlyList<CustomModelView> Models, UserKeys Keys, bool Budgeted);

/// <summary>
/// A user's <see cref="ChatSetup"/>, kept in memory between turns so that a chat reads only its conversation. The user's
/// own events (and any budget change) evict it: in this process right after they commit (<see cref="ChatSetupInvalidation"/>),
/// in every other process when PostgreSQL delivers the notification the same commit sent (<see cref="ChatSetupListener"/>).
/// While that connection is down nothing is kept (every turn reads its setup), and when it is back everything is
/// forgotten, since evictions sent meanwhile never arrived. Entries also expire after <see cref="Lifetime"/>.
/// </summary>
public sealed class ChatSetupCache(TimeProvider time) : NotifiedMemory<string, ChatSetupCache.Entry>(StringComparer.Ordinal)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    /// <summary>What <see cref="UserChangedBy"/> answers for a change that concerns every user (the default budget).</summary>
    public const string Everyone = "";

    public sealed record Entry(ChatSetup Setup, DateTimeOffset Expires);

    /// <summary>The user's setup from memory, else read through <paramref name="session"/> and kept.</summary>
    public async ValueTask<ChatSetup> GetAsync(string userId, IQuerySession session, CancellationToken ct)
    {
        if (TryGet(userId, out var cached)) return cached;
        var batch = session.CreateBatchQuery();
        var read = Read(userId, batch);
        await batch.Execute(ct);
        return await KeepAsync(read);
    }

    /// <summary>The user's setup, when memory holds a live one.</summary>
    public bool TryGet(string userId, [NotNullWhen(true)] out ChatSetup? setup)
    {
        setup = TryServe(userId, out var cached) && cached.Expires > time.GetUtcNow() ? cached.Setup : null;
        return setup is not null;
    }

    /// <summary>Adds the reads of the user's setup to <paramref name="batch"/> (so a turn reads it with its conversation).</summary>
    public SetupRead Read(string userId, IBatchedQuery batch) => new(
        userId, Generation, time.GetUtcNow(),
        batch.Load<UserSettings>(UserId.SettingsStreamFor(userId)),
        batch.Query<CustomModelView>().Where(m => m.UserId == userId).ToList(),
        batch.Query<ProviderKeyView>().Where(k => k.UserId == userId).ToList(),
        batch.Query<ProviderKeySecret>().Where(k => k.UserId == userId).ToList(),
        batch.Load<Budget>(BudgetStreams.For(userId)),
        batch.Load<Budget>(BudgetStreams.Default));

    /// <summary>The setup <paramref name="read"/> got once its batch ran, kept unless an eviction ran meanwhile.</summary>
    public async Task<ChatSetup> KeepAsync(SetupRead read)
    {
        var budgeted = (await read.Budget)?.MonthlyTokens is not null || (await read.DefaultBudget)?.MonthlyTokens is not null;
        var setup = new ChatSetup(await read.Settings, await read.Models,
            new UserKeys(read.UserId, await read.Keys, await read.Secrets), budgeted);
        Keep(read.UserId, new Entry(setup, read.At + Lifetime), read.Generation, replace: true);
        return setup;
    }

    /// <summary>Forgets the user's setup; <see cref="Everyone"/> forgets every user's.</summary>
    public void Evict(string userId)
    {
        if (userId == Everyone) Clear();
        else Forget(userId);
    }

    /// <summary>
    /// The user whose setup the event changes, <see cref="Everyone"/> when it changes every user's (the default budget),
    /// or null.
    /// </summary>
    public static string? UserChangedBy(object data) => data switch
    {
        SettingsChanged e => e.UserId,
        KeyAdded e => e.UserId,
        KeyRevoked e => e.UserId,
        CustomModelAdded e => e.UserId,
        CustomModelRemoved e => e.UserId,
        BudgetSet e => e.UserId ?? Everyone,
        _ => null,
    };
}

/// <summary>The reads of one user's <see cref="ChatSetup"/>, queued in a batch that has not run yet.</summary>
public sealed record SetupRead(
    string UserId, long Generation, DateTimeOffset At, Task<UserSettings?> Settings, Task<IReadOnlyList<CustomModelView>> Models,
    Task<IReadOnlyList<ProviderKeyView>> Keys, Task<IReadOnlyList<ProviderKeySecret>> Secrets, Task<Budget?> Budget,
    Task<Budget?> DefaultBudget);

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
