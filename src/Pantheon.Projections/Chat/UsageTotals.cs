using JasperFx.Events;
using Marten;
using Marten.Events.Projections;
using Npgsql;
using Pantheon.Domain.Chat;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Pantheon.Projections.Chat;

/// <summary>A user's requests and tokens through one provider, model and key (null: the system's key, or none).</summary>
public sealed record UsageTotal(string Provider, string Model, Guid? KeyId, long Requests, long TokensIn, long TokensOut);

/// <summary>
/// Usage by user, provider, model and key, kept by <see cref="UsageTotalsProjection"/> in two tables of our own:
/// <c>usage_totals</c> (one row per user, provider, model and key) and <c>usage_counted</c> (the ids of the
/// <see cref="UsageRecorded"/> events already added, so that replaying the log never counts one twice).
/// </summary>
public sealed class UsageTotals(string schema)
{
    public const string TotalsTable = "usage_totals";
    public const string CountedTable = "usage_counted";

    private string Totals => $"{schema}.{TotalsTable}";
    private string Counted => $"{schema}.{CountedTable}";

    /// <summary>The tables, for Marten to create and migrate with its own.</summary>
    public IEnumerable<Table> Tables()
    {
        var totals = new Table(new PostgresqlObjectName(schema, TotalsTable, SchemaUtils.IdentifierUsage.General));
        totals.AddColumn<string>("user_id").AsPrimaryKey();
        totals.AddColumn<string>("provider").AsPrimaryKey();
        totals.AddColumn<string>("model").AsPrimaryKey();
        totals.AddColumn<Guid>("key_id").AsPrimaryKey(); // Guid.Empty: the system's key; a key column cannot be null
        totals.AddColumn<long>("requests").NotNull();
        totals.AddColumn<long>("tokens_in").NotNull();
        totals.AddColumn<long>("tokens_out").NotNull();
        yield return totals;

        var counted = new Table(new PostgresqlObjectName(schema, CountedTable, SchemaUtils.IdentifierUsage.General));
        counted.AddColumn<Guid>("event_id").AsPrimaryKey();
        yield return counted;
    }

    /// <summary>
    /// Adds one event. An increment, not a load-change-store: PostgreSQL applies concurrent increments to a row one after
    /// the other under its row lock, so twenty turns of one user committing at once all count.
    /// </summary>
    public void Add(IDocumentOperations operations, Guid eventId, UsageRecorded e) => operations.QueueSqlCommand($"""
        with fresh as (insert into {Counted} (event_id) values (?) on conflict do nothing returning event_id)
        insert into {Totals} as t (user_id, provider, model, key_id, requests, tokens_in, tokens_out)
        select ?, ?, ?, ?, 1, ?, ? from fresh
        on conflict (user_id, provider, model, key_id) do update set requests = t.requests + 1,
            tokens_in = t.tokens_in + excluded.tokens_in, tokens_out = t.tokens_out + excluded.tokens_out
        """, eventId, e.UserId, e.Provider, e.Model, e.KeyId ?? Guid.Empty, e.TokensIn, e.TokensOut);

    /// <summary>The user's rows: one per provider, model and key, however many turns they add up.</summary>
    public async Task<IReadOnlyList<UsageTotal>> For(NpgsqlConnection connection, string userId, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(
            $"select provider, model, key_id, requests, tokens_in, tokens_out from {Totals} where user_id = $1", connection);
        command.Parameters.Add(new NpgsqlParameter { Value = userId });
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<UsageTotal>();
        while (await reader.ReadAsync(ct))
        {
            var key = reader.GetGuid(2);
            rows.Add(new UsageTotal(reader.GetString(0), reader.GetString(1), key == Guid.Empty ? null : key,
                reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
        }
        return rows;
    }
}

/// <summary>Inline: the usage of a turn commits with its <see cref="UsageRecorded"/>, and the next request reads it.</summary>
public sealed class UsageTotalsProjection(UsageTotals totals) : IProjection
{
    public Task ApplyAsync(IDocumentOperations operations, IReadOnlyList<IEvent> events, CancellationToken cancellation)
    {
        foreach (var e in events)
            if (e.Data is UsageRecorded usage) totals.Add(operations, e.Id, usage);
        return Task.CompletedTask;
    }
}
