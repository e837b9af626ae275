using System.Threading.RateLimiting;

namespace Pantheon.Web.Limits;

/// <summary>
/// One user's chat limiter: the chats in flight, then the chat bucket. A refused chat takes no token, and a chat the bucket
/// refuses gives its place back, as <see cref="RateLimiter.CreateChained"/> does. Unlike a chain, it is a
/// <see cref="ReplenishingRateLimiter"/> that does not replenish itself: the partitioned limiter's one heartbeat refills
/// every user's bucket, as it does the buckets of <see cref="RateLimitPartition.GetTokenBucketLimiter{TKey}"/>. A chain
/// holding a self-replenishing bucket gave every user who had chatted in the last seconds a timer of their own.
/// </summary>
internal sealed class ChatLimiter(int concurrent, TokenBucketRateLimiterOptions bucket) : ReplenishingRateLimiter
{
    private readonly ConcurrencyLimiter _inFlight = new(new ConcurrencyLimiterOptions { PermitLimit = concurrent, QueueLimit = 0 });
    private readonly TokenBucketRateLimiter _bucket = new(bucket); // TokenBucket.Options(): not self-replenishing

    public override bool IsAutoReplenishing => _bucket.IsAutoReplenishing;

    public override TimeSpan ReplenishmentPeriod => _bucket.ReplenishmentPeriod;

    public override bool TryReplenish() => _bucket.TryReplenish();

    /// <summary>Idle (and so removable by the partitioned limiter) once no chat is in flight and the bucket is full.</summary>
    public override TimeSpan? IdleDuration =>
        _inFlight.IdleDuration is { } a && _bucket.IdleDuration is { } b ? (a < b ? a : b) : null;

    public override RateLimiterStatistics? GetStatistics() => _bucket.GetStatistics();

    protected override RateLimitLease AttemptAcquireCore(int permitCount)
    {
        var place = _inFlight.AttemptAcquire(permitCount);
        return place.IsAcquired ? WithToken(place, _bucket.AttemptAcquire(permitCount)) : place;
    }

    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var place = await _inFlight.AcquireAsync(permitCount, cancellationToken);
        return place.IsAcquired ? WithToken(place, await _bucket.AcquireAsync(permitCount, cancellationToken)) : place;
    }

    private static RateLimitLease WithToken(RateLimitLease place, RateLimitLease token)
    {
        if (token.IsAcquired) return new Both(place, token);
        place.Dispose();
        return token;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inFlight.Dispose();
            _bucket.Dispose();
        }
        base.Dispose(disposing);
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        await _inFlight.DisposeAsync();
        await _bucket.DisposeAsync();
    }

    /// <summary>A place and a token, given back together.</summary>
    private sealed class Both(RateLimitLease place, RateLimitLease token) : RateLimitLease
    {
        public override bool IsAcquired => true;

        public override IEnumerable<string> MetadataNames => place.MetadataNames.Concat(token.MetadataNames);

        public override bool TryGetMetadata(string metadataName, out object? metadata) =>
            place.TryGetMetadata(metadataName, out metadata) || token.TryGetMetadata(metadataName, out metadata);

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                place.Dispose();
                token.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
