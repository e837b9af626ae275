using System.Security.Cryptography;
using System.Text;
using Marten;

namespace Pantheon.Web.Infrastructure;

/// <summary>
/// Serialises, across every backend process on the database, the requests that decide on the same thing (one user's
/// registration, one user's count of projects): the session's transaction takes a PostgreSQL advisory lock on the
/// key, held until that transaction commits or rolls back, so the next holder reads what the last one wrote.
/// </summary>
public static class TransactionLock
{
    /// <summary>Begins the session's transaction (idempotent) and waits for the lock on <paramref name="key"/> in it.</summary>
    public static async Task LockAsync(this IDocumentSession session, string key, CancellationToken ct)
    {
        await session.BeginTransactionAsync(ct);
        await session.QueryAsync<int>("select 1 from pg_advisory_xact_lock(?)", ct, KeyOf(key));
    }

    /// <summary>A 64-bit lock key from SHA-256: the keys of two different strings do not meet in practice.</summary>
    public static long KeyOf(string key) => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("pantheon-lock:" + key)), 0);
}
