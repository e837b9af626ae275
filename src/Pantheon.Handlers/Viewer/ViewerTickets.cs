using System.Security.Cryptography;
using Marten;
using Npgsql;
using Pantheon.Domain.Viewer;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Handlers.Viewer;

/// <summary>
/// Viewer tickets in PostgreSQL, by the SHA-256 of their text (a leaked table opens nothing). Redeeming is one
/// <c>delete ... returning</c>: PostgreSQL hands a row to exactly one caller, so a ticket opens one session however many
/// backend processes see it at once.
/// </summary>
public sealed class ViewerTickets
{
    public const string Table = "viewer_tickets";

    private static readonly DatabaseActor Redeeming = new DatabaseActor.System("viewer ticket redemption");
    private readonly NpgsqlDataSource _db;
    private readonly string _table;

    public ViewerTickets(NpgsqlDataSource db, IDocumentStore store)
    {
        _db = db;
        _table = $"{store.Options.DatabaseSchemaName}.{Table}";
    }

    /// <summary>Stores a new ticket for the user and project, valid until <paramref name="expiresAt"/>; returns its text.</summary>
    public async Task<string> IssueAsync(string userId, Guid projectId, DateTimeOffset now, DateTimeOffset expiresAt, CancellationToken ct)
    {
        var ticket = Base64Url(RandomNumberGenerator.GetBytes(32));
        await using var batch = _db.CreateBatch();
        batch.BatchCommands.Add(new DatabaseActor.User(userId).SetBatchCommand()); // a user's own ticket (row policies)
        // The user's tickets nobody used are cleared as new ones are issued, so the table stays a few tickets per user.
        batch.BatchCommands.Add(Command($"delete from {_table} where expires_at < $1", now));
        batch.BatchCommands.Add(Command($"insert into {_table} (id, user_id, project_id, expires_at) values ($1, $2, $3, $4)",
            Hash(ticket), userId, projectId, expiresAt));
        await batch.ExecuteNonQueryAsync(ct);
        return ticket;
    }

    /// <summary>Takes the ticket out of the store: its grant for the first caller, null for every later one and for a forgery.</summary>
    public async Task<ViewerTicketGrant?> TakeAsync(string ticket, CancellationToken ct)
    {
        // The ticket is the credential (a browser sends no bearer token here) and says itself whose it is: redeeming it
        // is the named system path.
        await using var batch = _db.CreateBatch();
        batch.BatchCommands.Add(Redeeming.SetBatchCommand());
        batch.BatchCommands.Add(Command($"delete from {_table} where id = $1 returning user_id, project_id, expires_at", Hash(ticket)));
        await using var reader = await batch.ExecuteReaderAsync(ct);
        await reader.NextResultAsync(ct); // past the actor's statement
        if (!await reader.ReadAsync(ct)) return null;
        return new ViewerTicketGrant(reader.GetString(0), reader.GetGuid(1), reader.GetFieldValue<DateTimeOffset>(2));
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values) command.Parameters.Add(new NpgsqlParameter { Value = value });
        return command;
    }

    private static string Hash(string ticket) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(ticket)));

    internal static string Base64Url(ReadOnlySpan<byte> bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
