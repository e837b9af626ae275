using Npgsql;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>
/// Whom the database serves in the current flow: one user (row-level security shows only that user's rows) or the
/// system (the saga, the reconciler, operator routes, the command line), each named. No actor: no user-owned row.
/// </summary>
public abstract record DatabaseActor
{
    /// <summary>PostgreSQL's setting that the row policies compare with each table's owner column.</summary>
    public const string UserSetting = "pantheon.user_id";

    /// <summary>PostgreSQL's setting that lets the named system path through every row policy (<c>on</c>).</summary>
    public const string SystemSetting = "pantheon.system";

    private static readonly AsyncLocal<DatabaseActor?> Ambient = new();

    private DatabaseActor() { }

    /// <summary>A request of one signed-in user (the token's <c>sub</c>).</summary>
    public sealed record User(string Id) : DatabaseActor;

    /// <summary>Work for no user; <paramref name="Reason"/> names the path (for logs and for the reader).</summary>
    public sealed record System(string Reason) : DatabaseActor;

    /// <summary>The actor of the current flow, set by the HTTP pipeline and by the message handlers' middleware.</summary>
    public static DatabaseActor? Current => Ambient.Value;

    /// <summary>Sets the actor for the rest of the calling flow (a synchronous call, so it flows on into the caller).</summary>
    public static void Enter(DatabaseActor? actor) => Ambient.Value = actor;

    /// <summary>
    /// The statement that sets the actor for the current transaction only (<c>set_config(..., true)</c>): when it
    /// ends, the pooled connection carries nothing on to its next user.
    /// </summary>
    public NpgsqlCommand SetCommand(NpgsqlConnection connection)
    {
        var command = new NpgsqlCommand(SetSql, connection);
        AddValues(command.Parameters);
        return command;
    }

    /// <summary>
    /// The same statement as the first of a batch without a transaction of its own: a batch runs in one implicit
    /// transaction, so the actor holds for the batch's statements and ends with it. It answers one row: skip its result.
    /// </summary>
    public NpgsqlBatchCommand SetBatchCommand()
    {
        var command = new NpgsqlBatchCommand(SetSql);
        AddValues(command.Parameters);
        return command;
    }

    private const string SetSql = $"select set_config('{UserSetting}', $1, true), set_config('{SystemSetting}', $2, true)";

    private void AddValues(NpgsqlParameterCollection parameters)
    {
        parameters.Add(new NpgsqlParameter { Value = this is User u ? u.Id : "" });
        parameters.Add(new NpgsqlParameter { Value = this is System ? "on" : "off" });
    }

    /// <summary>Opens a connection and a transaction that act for this actor (raw SQL on tables with row policies).</summary>
    public async Task<(NpgsqlConnection Connection, NpgsqlTransaction Transaction)> BeginAsync(NpgsqlDataSource database,
        CancellationToken ct)
    {
        var connection = await database.OpenConnectionAsync(ct);
        try
        {
            var transaction = await connection.BeginTransactionAsync(ct);
            await using var set = SetCommand(connection);
            await set.ExecuteNonQueryAsync(ct);
            return (connection, transaction);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }
}

/// <summary>
/// A connection and its transaction that act for one <see cref="DatabaseActor"/>; disposing rolls back what was not committed.
/// </summary>
public sealed class ActorTransaction(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
{
    public NpgsqlBatch Batch() => new(connection) { Transaction = transaction };

    public NpgsqlCommand Command(string sql) => new(sql, connection, transaction);

    public Task CommitAsync(CancellationToken ct) => transaction.CommitAsync(ct);

    public async ValueTask DisposeAsync()
    {
        await transaction.DisposeAsync();
        await connection.DisposeAsync();
    }
}
