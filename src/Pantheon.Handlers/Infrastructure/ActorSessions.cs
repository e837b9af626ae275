using Marten;
using Marten.Services;
using Marten.Storage;
using Npgsql;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>
/// The one place Marten sessions come from (Wolverine's too: this is the store's <see cref="ISessionFactory"/>). A
/// session runs in a transaction whose first statement sets its <see cref="DatabaseActor"/>, on the application role's
/// connections that carry no actor of their own, so a session nobody gave an actor sees no user-owned row.
/// After each commit the session starts its next transaction with the same actor.
/// </summary>
public sealed class ActorSessions : ISessionFactory
{
    private readonly IDocumentStore _store;
    private readonly Lazy<MartenDatabase> _database;

    /// <param name="store">The document store (its own connections are the system path of Marten's daemon).</param>
    /// <param name="requests">The application role's connections without an actor: those that serve users.</param>
    public ActorSessions(IDocumentStore store, NpgsqlDataSource requests)
    {
        _store = store;
        _database = new(() => new MartenDatabase((StoreOptions)store.Options, requests, "pantheon-actors"));
    }

    /// <summary>
    /// A session for the flow's actor (<see cref="DatabaseActor.Current"/>). With none set, the session carries no actor
    /// (it sees no user-owned row) until <see cref="Bind"/> gives it one: Wolverine opens a handler's session before
    /// any middleware runs, and <see cref="SystemWork"/> binds it then.
    /// </summary>
    public IDocumentSession OpenSession() => DatabaseActor.Current is { } actor ? For(actor) : Open();

    /// <summary>A read-only use of a session for the flow's actor; its transaction is rolled back when it is disposed.</summary>
    public IQuerySession QuerySession() => OpenSession();

    /// <summary>A session that acts for one user.</summary>
    public IDocumentSession ForUser(string userId) => For(new DatabaseActor.User(userId));

    /// <summary>A session that acts for no user: the named system path (<paramref name="reason"/> names it).</summary>
    public IDocumentSession ForSystem(string reason) => For(new DatabaseActor.System(reason));

    /// <summary>
    /// A session for <paramref name="actor"/>, opened without blocking a thread. <paramref name="once"/>: the session is disposed
    /// after its commit (or its failure), so no transaction is begun again for a next use that never comes.
    /// </summary>
    public async Task<IDocumentSession> ForAsync(DatabaseActor actor, CancellationToken ct, bool once = false)
    {
        var session = Open();
        try
        {
            await session.BeginTransactionAsync(ct);
            await using (var set = actor.SetCommand(session.Connection)) await set.ExecuteNonQueryAsync(ct);
            if (!once) session.Listeners.Add(new ActorAfterCommit(actor));
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    public IDocumentSession For(DatabaseActor actor)
    {
        var session = Open();
        try
        {
            Bind(session, actor);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Gives a session that has no actor yet its actor, from its next statement on.</summary>
    public static void Bind(IDocumentSession session, DatabaseActor actor)
    {
        session.BeginTransaction();
        using (var set = actor.SetCommand(session.Connection)) set.ExecuteNonQuery();
        session.Listeners.Add(new ActorAfterCommit(actor));
    }

    private IDocumentSession Open() => _store.LightweightSession(SessionOptions.ForDatabase(_database.Value));

    /// <summary>A commit ends the transaction that carried the actor: the next one carries it again.</summary>
    private sealed class ActorAfterCommit(DatabaseActor actor) : DocumentSessionListenerBase
    {
        public override async Task AfterCommitAsync(IDocumentSession session, IChangeSet commit, CancellationToken token)
        {
            await session.BeginTransactionAsync(token);
            await using var set = actor.SetCommand(session.Connection);
            await set.ExecuteNonQueryAsync(token);
        }
    }
}
