using System.Threading.RateLimiting;
using Pantheon.Web.Limits;

namespace Pantheon.IntegrationTests.Limits;

/// <summary>
/// The per-user chat limiter on its own, as the rate-limiting middleware holds it: one partitioned limiter over every
/// user's partition. In a collection that runs alone, because it counts the process's timers.
/// </summary>
[Collection(TimerCountingCollection.Name)]
public class ChatLimiterTests
{
    private static PartitionedRateLimiter<string> Limiter(TokenBucket bucket, int concurrent) =>
        PartitionedRateLimiter.Create<string, string>(user => LimitsConfiguration.ChatPartition(user, bucket, concurrent));

    [Fact]
    public void a_chat_past_the_cap_takes_no_token_and_a_chat_the_bucket_refuses_gives_its_place_back()
    {
        using var limiter = Limiter(new TokenBucket { TokenLimit = 2, TokensPerPeriod = 1, PeriodSeconds = 60 }, concurrent: 1);

        using (var first = limiter.AttemptAcquire("ada"))
        {
            first.IsAcquired.ShouldBeTrue();
            using var second = limiter.AttemptAcquire("ada");
            second.IsAcquired.ShouldBeFalse();
            second.TryGetMetadata(MetadataName.RetryAfter, out _).ShouldBeFalse(); // the cap, not the bucket
        }
        using (var again = limiter.AttemptAcquire("ada")) again.IsAcquired.ShouldBeTrue(); // the second token: the refusal took none

        using var spent = limiter.AttemptAcquire("ada");
        spent.IsAcquired.ShouldBeFalse();
        spent.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter).ShouldBeTrue();
        retryAfter.ShouldBeGreaterThan(TimeSpan.Zero);
        using var other = limiter.AttemptAcquire("grace"); // another user's partition
        other.IsAcquired.ShouldBeTrue();
    }

    [Fact]
    public async Task the_partitioned_limiter_refills_a_users_bucket()
    {
        using var limiter = Limiter(new TokenBucket { TokenLimit = 1, TokensPerPeriod = 1, PeriodSeconds = 0.2 }, concurrent: 4);
        limiter.AttemptAcquire("ada").Dispose();
        using (var refused = limiter.AttemptAcquire("ada")) refused.IsAcquired.ShouldBeFalse();

        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            using var lease = limiter.AttemptAcquire("ada");
            if (lease.IsAcquired) break;
            (DateTime.UtcNow < deadline).ShouldBeTrue("the bucket was not refilled within 10 s of a 0.2 s period");
            await Task.Delay(50);
        }
    }

    [Fact]
    public void users_who_chatted_do_not_get_a_timer_each()
    {
        using var limiter = Limiter(new TokenBucket { TokenLimit = 20, TokensPerPeriod = 1, PeriodSeconds = 2 }, concurrent: 4);
        limiter.AttemptAcquire("warm-up").Dispose(); // the partitioned limiter's own heartbeat
        var before = Timer.ActiveCount;
        for (var i = 0; i < 1000; i++) limiter.AttemptAcquire($"user-{i}").Dispose();

        // A chain of a concurrency limiter and a self-replenishing bucket made one timer per user: 1,000 here.
        (Timer.ActiveCount - before).ShouldBeLessThan(100);
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TimerCountingCollection
{
    public const string Name = "timer counting";
}
