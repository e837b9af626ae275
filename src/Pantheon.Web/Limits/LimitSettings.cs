using System.Threading.RateLimiting;

namespace Pantheon.Web.Limits;

/// <summary>The <c>Limits</c> section: what one user may hold or run at once.</summary>
public sealed class UserLimits
{
    public const string Section = "Limits";

    /// <summary>Projects not being deleted (<c>Limits:ProjectsPerUser</c>).</summary>
    public int ProjectsPerUser { get; set; } = 5;

    /// <summary>Unrevoked provider keys (<c>Limits:ApiKeysPerUser</c>).</summary>
    public int ApiKeysPerUser { get; set; } = 50;

    /// <summary>Custom models (<c>Limits:CustomModelsPerUser</c>).</summary>
    public int CustomModelsPerUser { get; set; } = 50;

    /// <summary><c>POST /api/chat</c> requests in flight, per backend process (<c>Limits:ConcurrentChatsPerUser</c>).</summary>
    public int ConcurrentChatsPerUser { get; set; } = 4;

    /// <summary>Open <c>/ws</c> sockets, per backend process (<c>Limits:WebSocketsPerUser</c>).</summary>
    public int WebSocketsPerUser { get; set; } = 8;
}

/// <summary>The <c>RateLimits</c> section: token buckets per user (the token's <c>sub</c>), per backend process.</summary>
public sealed class RateLimitSettings
{
    public const string Section = "RateLimits";

    /// <summary>Every <c>/api</c> request: bursts of 300, then 10 a second.</summary>
    public TokenBucket Api { get; set; } = new() { TokenLimit = 300, TokensPerPeriod = 10, PeriodSeconds = 1 };

    /// <summary><c>POST /api/chat</c>, besides <see cref="Api"/>: bursts of 20, then one every 2 seconds.</summary>
    public TokenBucket Chat { get; set; } = new() { TokenLimit = 20, TokensPerPeriod = 1, PeriodSeconds = 2 };

    /// <summary><c>POST /api/projects</c>, besides <see cref="Api"/>: bursts of 10, then one every 6 seconds.</summary>
    public TokenBucket Projects { get; set; } = new() { TokenLimit = 10, TokensPerPeriod = 1, PeriodSeconds = 6 };
}

/// <summary>
/// A bucket of <see cref="TokenLimit"/> requests, refilled by <see cref="TokensPerPeriod"/> every <see cref="PeriodSeconds"/>.
/// </summary>
public sealed class TokenBucket
{
    public int TokenLimit { get; set; }
    public int TokensPerPeriod { get; set; }
    public double PeriodSeconds { get; set; }

    /// <summary>
    /// Refilled by the partitioned limiter that holds it (its one heartbeat for every user's bucket), never by a timer of its
    /// own per user: <see cref="RateLimitPartition.GetTokenBucketLimiter{TKey}"/> would turn that off anyway, and
    /// <see cref="ChatLimiter"/> relies on it.
    /// </summary>
    public TokenBucketRateLimiterOptions Options() => new()
    {
        TokenLimit = TokenLimit, TokensPerPeriod = TokensPerPeriod, ReplenishmentPeriod = TimeSpan.FromSeconds(PeriodSeconds),
        QueueLimit = 0, AutoReplenishment = false,
    };
}
