using Pantheon.Domain.Live;

namespace Pantheon.Domain.Tests.Live;

public class DeliveryCursorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    private static readonly HashSet<ulong> None = [];

    private static HashSet<ulong> S(params ulong[] xids) => [.. xids];

    [Fact]
    public void consecutive_events_are_all_handed_out()
    {
        var (take, next) = DeliveryCursor.At(10).Advance([11, 12, 13], None, None, T0, Timeout);
        take.ShouldBe(3);
        next.ShouldBe(DeliveryCursor.At(13) with { Gaps = next.Gaps });
        next.Gaps.ShouldBeEmpty();
    }

    [Fact]
    public void the_feed_stops_at_a_number_whose_writer_may_still_commit_and_hands_it_out_in_its_place_when_it_does()
    {
        var (take, waiting) = DeliveryCursor.At(10).Advance([12, 13], None, running: S(700, 701), T0, Timeout);
        take.ShouldBe(0);
        waiting.Delivered.ShouldBe(10);
        waiting.Gaps.Single().Top.ShouldBe(13);

        var (later, next) = waiting.Advance([11, 12, 13], stillRunning: S(701), running: S(701), T0.AddMilliseconds(20), Timeout);
        later.ShouldBe(3);
        next.Delivered.ShouldBe(13);
        next.Gaps.ShouldBeEmpty();
    }

    [Fact]
    public void a_gap_is_passed_once_every_writer_running_when_it_was_seen_has_ended_and_it_has_had_time_to_settle()
    {
        var (_, waiting) = DeliveryCursor.At(10).Advance([12], None, running: S(700), T0, Timeout);

        waiting.Advance([12], stillRunning: S(700), running: S(700), T0.AddSeconds(1), Timeout).Take.ShouldBe(0); // may still commit
        waiting.Advance([12], stillRunning: None, running: None, T0.AddMilliseconds(10), Timeout).Take.ShouldBe(0); // too fresh
        var (take, next) = waiting.Advance([12, 14], stillRunning: None, running: S(800), T0 + DeliveryCursor.Settle, Timeout);
        take.ShouldBe(1); // 11 rolled back; 13 is a new gap, seen now
        next.Delivered.ShouldBe(12);
        next.Gaps.Single().ShouldBe(new SequenceGaps(14, next.Gaps.Single().Writers, T0 + DeliveryCursor.Settle));
        next.Gaps.Single().Writers.ShouldBe([800UL]);
    }

    [Fact]
    public void a_gap_whose_writers_never_end_is_passed_after_the_timeout()
    {
        var (_, waiting) = DeliveryCursor.At(10).Advance([12], None, running: S(700), T0, Timeout);
        waiting.Advance([12], stillRunning: S(700), running: S(700), T0 + Timeout - TimeSpan.FromMilliseconds(1), Timeout).Take.ShouldBe(0);
        var (take, next) = waiting.Advance([12], stillRunning: S(700), running: S(700), T0 + Timeout, Timeout);
        take.ShouldBe(1);
        next.Delivered.ShouldBe(12);
    }

    [Fact]
    public void a_newer_gap_keeps_its_own_clock_and_writers()
    {
        var (_, first) = DeliveryCursor.At(10).Advance([12], None, running: S(700), T0, Timeout);
        var (_, both) = first.Advance([12, 14], stillRunning: S(700), running: S(700, 710), T0.AddSeconds(3), Timeout);
        both.Gaps.Select(g => g.Top).ShouldBe([12L, 14L]);
        both.Watched.ShouldBe([700UL, 710UL], ignoreOrder: true);

        // The first gap times out; the second is younger and its writer 710 still runs: the feed stops before 14.
        var (take, next) = both.Advance([12, 14], stillRunning: S(700, 710), running: S(700, 710), T0 + Timeout, Timeout);
        take.ShouldBe(1);
        next.Delivered.ShouldBe(12);
        next.Gaps.Single().Top.ShouldBe(14);
    }
}
