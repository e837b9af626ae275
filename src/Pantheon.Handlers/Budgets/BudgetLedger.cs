using Marten;
using Npgsql;
using NpgsqlTypes;
using Pantheon.Domain.Budgets;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Handlers.Budgets;

/// <summary>
/// The monthly token ledger in PostgreSQL: one row per user and month (<c>spent</c>, <c>reserved</c>) and one row per
/// turn in flight. A reservation is one conditional upsert whose condition PostgreSQL re-checks on the latest row
/// version under the row lock, so concurrent turns, in any number of backend processes, cannot overspend together.
/// Both tables have row policies: each batch acts for the user whose rows it touches, its first statement setting the
/// actor for the batch's one implicit transaction (<see cref="DatabaseActor.SetBatchCommand"/>).
/// </summary>
public sealed class BudgetLedger
{
    public const string LedgerTable = "budget_ledger";
    public const string ReservationsTable = "budget_reservations";

    private readonly NpgsqlDataSource _db;
    private readonly BudgetSettings _settings;
    private readonly TimeProvider _time;
    private readonly string _ledger, _reservations, _budgets;

    public BudgetLedger(NpgsqlDataSource db, IDocumentStore store, BudgetSettings settings, TimeProvider time)
    {
        (_db, _settings, _time) = (db, settings, time);
        var schema = store.Options.DatabaseSchemaName;
        (_ledger, _reservations) = ($"{schema}.{LedgerTable}", $"{schema}.{ReservationsTable}");
        _budgets = store.Options.FindOrResolveDocumentType(typeof(Budget)).TableName.QualifiedName;
    }

    /// <summary>The worst case of a turn that sends <paramref name="messages"/> and may generate <paramref name="maxTokens"/>.</summary>
    public BudgetEstimate Estimate(IEnumerable<string> messages, int? maxTokens) =>
        BudgetRules.Estimate(messages, maxTokens, _settings.AssumedMaxTokens, _settings.CharactersPerToken);

    /// <summary>
    /// Holds <paramref name="estimate"/> for the user this month, or says why not (the user's month as it stands). A turn's
    /// hold takes the turn's message id as <paramref name="id"/>, so that whoever closes an abandoned turn can give it back.
    /// </summary>
    public async Task<BudgetDecision> Reserve(string userId, BudgetEstimate estimate, CancellationToken ct, Guid? id = null)
    {
        var now = _time.GetUtcNow();
        var month = BudgetRules.MonthOf(now);
        var reservation = id ?? Guid.CreateVersion7();
        await using var batch = For(userId);
        batch.BatchCommands.Add(Reclaim(userId, now));
        batch.BatchCommands.Add(Command($"""
            with lim as (select {Limit} as tokens),
            held as (
                insert into {_ledger} as l (user_id, month, spent, reserved)
                select $1, $4, 0, $5 from lim where lim.tokens is null or $5 <= lim.tokens
                on conflict (user_id, month) do update set reserved = l.reserved + excluded.reserved
                where (select tokens from lim) is null or l.spent + l.reserved + excluded.reserved <= (select tokens from lim)
                returning l.user_id)
            insert into {_reservations} (id, user_id, month, tokens, expires_at)
            select $6, $1, $4, $5, $7 from held
            returning id
            """, userId, BudgetStreams.For(userId), BudgetStreams.Default, month, estimate.Total, reservation,
            now.AddSeconds(_settings.ReservationTimeoutSeconds)));
        bool held;
        await using (var reader = await ReaderAsync(batch, ct)) held = await reader.ReadAsync(ct);
        return held
            ? new BudgetDecision(new BudgetReservation(this, reservation, userId, month, estimate, held: true), null)
            : new BudgetDecision(null, await Read(userId, ct));
    }

    /// <summary>
    /// A turn of a user for whom no budget is in force (neither their own nor the default): nothing is held, so the turn
    /// costs no round trip before its call; settling it adds what it cost to the month's spend all the same.
    /// </summary>
    public BudgetReservation Unreserved(string userId, BudgetEstimate estimate) =>
        new(this, Guid.CreateVersion7(), userId, BudgetRules.MonthOf(_time.GetUtcNow()), estimate, held: false);

    /// <summary>Turns the reservation into what the turn really cost (see <see cref="BudgetRules.Actual"/>).</summary>
    public Task Settle(BudgetReservation reservation, long? reportedTokens, int replyCharacters, CancellationToken ct) =>
        reservation.Close() ? Finish(reservation, BudgetRules.Actual(reportedTokens, reservation.Estimate, replyCharacters,
            _settings.CharactersPerToken), ct) : Task.CompletedTask;

    /// <summary>Gives the reservation back unspent: the turn never reached the provider or failed before any reply.</summary>
    public Task Release(BudgetReservation reservation, CancellationToken ct) =>
        reservation.Close() ? Finish(reservation, 0, ct) : Task.CompletedTask;

    /// <summary>
    /// Gives back, unspent, the hold whose id is the one parameter (<c>?</c>, Marten's placeholder), if it is still held: for
    /// the transaction that records an abandoned turn's end, so that the two happen together or not at all.
    /// </summary>
    public string ReleaseSql => $"""
        with gone as (delete from {_reservations} where id = ? returning user_id, month, tokens)
        update {_ledger} l set reserved = l.reserved - g.tokens from gone g where l.user_id = g.user_id and l.month = g.month
        """;

    /// <summary>The user's budget this month; expired reservations are given back first.</summary>
    public async Task<BudgetStatus> Read(string userId, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        await using var batch = For(userId);
        batch.BatchCommands.Add(Reclaim(userId, now));
        batch.BatchCommands.Add(Command($"""
            select {Limit},
                   case when {LimitOf("$2")} is not null then 'user' when {LimitOf("$3")} is not null then 'default' else 'none' end,
                   coalesce(l.spent, 0), coalesce(l.reserved, 0)
            from (select 1) one left join {_ledger} l on l.user_id = $1 and l.month = $4
            """, userId, BudgetStreams.For(userId), BudgetStreams.Default, BudgetRules.MonthOf(now)));
        await using var reader = await ReaderAsync(batch, ct);
        await reader.ReadAsync(ct);
        var source = Enum.Parse<BudgetSource>(reader.GetString(1), ignoreCase: true);
        var budget = reader.IsDBNull(0) ? (long?)null : reader.GetInt64(0);
        return new BudgetStatus(budget, source, reader.GetInt64(2), reader.GetInt64(3), BudgetRules.ResetsAt(now));
    }

    private async Task Finish(BudgetReservation reservation, long spent, CancellationToken ct)
    {
        if (!reservation.Held)
        {
            if (spent > 0) await Charge(reservation, spent, ct);
            return;
        }
        // Settled after it expired: its hold was already given back, but what the provider spent still counts.
        await using var batch = For(reservation.UserId);
        batch.BatchCommands.Add(Command($"""
            with gone as (delete from {_reservations} where id = $1 returning tokens)
            update {_ledger} set spent = spent + $2, reserved = reserved - coalesce((select tokens from gone), 0)
            where user_id = $3 and month = $4
            """, reservation.Id, spent, reservation.UserId, reservation.Month));
        await batch.ExecuteNonQueryAsync(ct);
    }

    private async Task Charge(BudgetReservation reservation, long spent, CancellationToken ct)
    {
        await using var batch = For(reservation.UserId);
        batch.BatchCommands.Add(Command($"""
            insert into {_ledger} as l (user_id, month, spent, reserved) values ($1, $2, $3, 0)
            on conflict (user_id, month) do update set spent = l.spent + excluded.spent
            """, reservation.UserId, reservation.Month, spent));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The batch's reader past the actor's statement, at the result of the first statement of ours that answers rows.</summary>
    private static async Task<NpgsqlDataReader> ReaderAsync(NpgsqlBatch batch, CancellationToken ct)
    {
        var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct);
        return reader;
    }

    /// <summary>A batch that acts for <paramref name="userId"/>: the rows it reads and writes are that user's.</summary>
    private NpgsqlBatch For(string userId)
    {
        var batch = _db.CreateBatch();
        batch.BatchCommands.Add(new DatabaseActor.User(userId).SetBatchCommand());
        return batch;
    }

    /// <summary>Gives back the holds of turns that never settled (their process died), each exactly once.</summary>
    private NpgsqlBatchCommand Reclaim(string userId, DateTimeOffset now) => Command($"""
        with gone as (delete from {_reservations} where user_id = $1 and expires_at <= $2 returning month, tokens)
        update {_ledger} l set reserved = l.reserved - g.tokens
        from (select month, sum(tokens) as tokens from gone group by month) g
        where l.user_id = $1 and l.month = g.month
        """, userId, now);

    /// <summary>The budget in force: the user's own ($2), else the default ($3); null when neither is set.</summary>
    private string Limit => $"coalesce({LimitOf("$2")}, {LimitOf("$3")})";

    private string LimitOf(string stream) => $"(select (data ->> 'MonthlyTokens')::bigint from {_budgets} where id = {stream})";

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        Add(command.Parameters, values);
        return command;
    }

    private static void Add(NpgsqlParameterCollection parameters, params object[] values)
    {
        foreach (var value in values)
        {
            parameters.Add(value switch
            {
                DateOnly month => new NpgsqlParameter { Value = month, NpgsqlDbType = NpgsqlDbType.Date },
                DateTimeOffset at => new NpgsqlParameter { Value = at.UtcDateTime, NpgsqlDbType = NpgsqlDbType.TimestampTz },
                _ => new NpgsqlParameter { Value = value },
            });
        }
    }
}

/// <summary>What <see cref="BudgetLedger.Reserve"/> decided: a reservation, or the user's month that leaves no room.</summary>
public sealed record BudgetDecision(BudgetReservation? Reservation, BudgetStatus? Refused);

/// <summary>
/// Tokens held for one turn. Settle it with what the turn cost, or release it; disposing an open reservation releases
/// it, so <c>await using</c> gives the tokens back on every path that did not settle (a failure, an exception).
/// </summary>
public sealed class BudgetReservation : IAsyncDisposable
{
    private readonly BudgetLedger _ledger;
    private int _closed;

    internal BudgetReservation(BudgetLedger ledger, Guid id, string userId, DateOnly month, BudgetEstimate estimate, bool held) =>
        (_ledger, Id, UserId, Month, Estimate, Held) = (ledger, id, userId, month, estimate, held);

    public Guid Id { get; }
    public string UserId { get; }
    /// <summary>The month the turn started in: it is charged there even if it ends in the next.</summary>
    public DateOnly Month { get; }
    public BudgetEstimate Estimate { get; }
    /// <summary>False for a turn without a budget in force: nothing is held, and settling only records the spend.</summary>
    public bool Held { get; }

    /// <summary>Settles with the provider's token count (null when it reported none) and the reply's length.</summary>
    public Task Settle(long? reportedTokens, int replyCharacters) =>
        _ledger.Settle(this, reportedTokens, replyCharacters, CancellationToken.None);

    public ValueTask DisposeAsync() => new(_ledger.Release(this, CancellationToken.None));

    /// <summary>True the first time only: a reservation is settled or released once.</summary>
    internal bool Close() => Interlocked.Exchange(ref _closed, 1) == 0;
}
