using System.Collections.Concurrent;
using Marten;
using Npgsql;
using NpgsqlTypes;
using Pantheon.Domain.Chat;
using Pantheon.Handlers.Infrastructure;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Pantheon.Handlers.Chat;

/// <summary>What answering an approval did.</summary>
public enum ApprovalAnswerResult { Answered, NotFound, AlreadyEnded }

/// <summary>
/// Tool calls waiting for their owner's approval, in PostgreSQL so that any backend process may answer one: a row per call,
/// answered by one conditional update (the first of an answer and the expiry wins), and a <c>NOTIFY</c> that wakes the
/// process whose turn waits (which also looks again every second, since notifications are hints).
/// </summary>
public sealed class ToolApprovals(NpgsqlDataSource db, IDocumentStore store, TimeProvider time) : INotificationListener
{
    public const string Table = "chat_tool_approvals";
    public const string NotificationChannel = "pantheon_tool_approvals";
    private static readonly TimeSpan LookAgain = TimeSpan.FromSeconds(1);
    // The waiting turn looks its call up by id (it may have been answered in another process): a named system path.
    private static readonly DatabaseActor Waiting = new DatabaseActor.System("tool approval wait");

    private readonly string _table = $"{store.Options.DatabaseSchemaName}.{Table}";
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiting = new();

    public string Channel => NotificationChannel;

    public void Notified(string payload)
    {
        if (Guid.TryParse(payload, out var id) && _waiting.TryGetValue(id, out var wake)) wake.TrySetResult();
    }

    public void Connected()
    {
        foreach (var wake in _waiting.Values) wake.TrySetResult(); // an answer may have come while the connection was down
    }

    public void Lost() { }

    /// <summary>The call now waits for <paramref name="userId"/>'s answer until <paramref name="expiresAt"/>.</summary>
    public async Task OpenAsync(Guid callId, string userId, Guid conversationId, Guid messageId, string tool, DateTimeOffset expiresAt,
        CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new DatabaseActor.User(userId).SetBatchCommand()); // the user's own call (row policies)
        batch.BatchCommands.Add(Command(
            $"insert into {_table} (call_id, user_id, conversation_id, message_id, tool, expires_at) values ($1, $2, $3, $4, $5, $6)",
            callId, userId, conversationId, messageId, tool, expiresAt));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The owner's answer: another user's call, or one that does not exist, is not found; an ended one stays ended.</summary>
    public async Task<ApprovalAnswerResult> AnswerAsync(Guid callId, string userId, bool approve, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(new DatabaseActor.User(userId).SetBatchCommand()); // only the user's own calls (row policies)
        batch.BatchCommands.Add(Command($"""
            with answered as (
                update {_table} set answer = $3, answered_at = $4
                where call_id = $1 and user_id = $2 and answer is null and expires_at > $4
                returning call_id)
            select case when exists (select 1 from answered) then 'answered'
                        when exists (select 1 from {_table} where call_id = $1 and user_id = $2) then 'ended'
                        else 'missing' end,
                   (select pg_notify('{NotificationChannel}', $1::text) from answered)
            """, callId, userId, approve ? ApprovalAnswers.Approved : ApprovalAnswers.Refused, time.GetUtcNow()));
        return await ScalarAsync(batch, ct) switch
        {
            "answered" => ApprovalAnswerResult.Answered,
            "ended" => ApprovalAnswerResult.AlreadyEnded,
            _ => ApprovalAnswerResult.NotFound,
        };
    }

    /// <summary>
    /// Waits for the call's answer (<see cref="ApprovalAnswers"/>); at <paramref name="expiresAt"/> it expires, unless an answer
    /// committed first.
    /// </summary>
    public async Task<string> WaitAsync(Guid callId, DateTimeOffset expiresAt, CancellationToken ct)
    {
        while (true)
        {
            var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting[callId] = wake;
            try
            {
                var now = time.GetUtcNow();
                if (await EndAsync(callId, expire: now >= expiresAt, now, ct) is { } answer) return answer;
                var wait = expiresAt - now < LookAgain ? expiresAt - now : LookAgain;
                await Task.WhenAny(wake.Task, Task.Delay(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, time, ct));
                ct.ThrowIfCancellationRequested();
            }
            finally
            {
                _waiting.TryRemove(new KeyValuePair<Guid, TaskCompletionSource>(callId, wake));
            }
        }
    }

    /// <summary>The call's answer if it has one; with <paramref name="expire"/>, records <c>expired</c> if it has none.</summary>
    private async Task<string?> EndAsync(Guid callId, bool expire, DateTimeOffset now, CancellationToken ct)
    {
        await using var batch = db.CreateBatch();
        batch.BatchCommands.Add(Waiting.SetBatchCommand());
        batch.BatchCommands.Add(expire
            ? Command($"""
              with expired as (update {_table} set answer = '{ApprovalAnswers.Expired}', answered_at = $2
                               where call_id = $1 and answer is null returning answer)
              select coalesce((select answer from expired), (select answer from {_table} where call_id = $1))
              """, callId, now)
            : Command($"select answer from {_table} where call_id = $1", callId));
        return await ScalarAsync(batch, ct);
    }

    /// <summary>The first column of the first row of the batch's last statement (past the actor's).</summary>
    private static async Task<string?> ScalarAsync(NpgsqlBatch batch, CancellationToken ct)
    {
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        return await reader.ReadAsync(ct) && !await reader.IsDBNullAsync(0, ct) ? reader.GetString(0) : null;
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
            command.Parameters.Add(value is DateTimeOffset at
                ? new NpgsqlParameter { Value = at.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz }
                : new NpgsqlParameter { Value = value });
        return command;
    }

    /// <summary>The table, beside Marten's (as the budget ledger's).</summary>
    public static void AddTable(StoreOptions opts)
    {
        var table = new Weasel.Postgresql.Tables.Table(new PostgresqlObjectName(opts.DatabaseSchemaName, Table, SchemaUtils.IdentifierUsage.General));
        table.AddColumn<Guid>("call_id").AsPrimaryKey();
        table.AddColumn<string>("user_id").NotNull();
        table.AddColumn<Guid>("conversation_id").NotNull();
        table.AddColumn<Guid>("message_id").NotNull();
        table.AddColumn<string>("tool").NotNull();
        table.AddColumn("expires_at", "timestamptz").NotNull();
        table.AddColumn<string>("answer");
        table.AddColumn("answered_at", "timestamptz");
        opts.Storage.ExtendedSchemaObjects.Add(table);
    }
}
