namespace Pantheon.Domain.Live;

/// <summary>
/// Missing sequence numbers below <see cref="Top"/>, a committed event, as one snapshot saw them: their writers may still
/// commit. A writer takes its number inside its transaction, so it was one of <see cref="Writers"/> (the transactions
/// running in that snapshot); once all of them have ended, the numbers still missing were rolled back.
/// </summary>
public sealed record SequenceGaps(long Top, IReadOnlySet<ulong> Writers, DateTimeOffset Seen);

/// <summary>
/// Where a live feed stands in the event log: every event up to <see cref="Delivered"/> has been handed out once, in
/// sequence order. Sequence numbers are taken before commit, so a later number can become visible before an earlier
/// one: the feed stops at a gap until the gap's writer commits (the event then goes out in its place) or is known to
/// have rolled back, or the gap is older than the timeout (a writer that never ends must not stop the feed for ever).
/// </summary>
public sealed record DeliveryCursor(long Delivered, IReadOnlyList<SequenceGaps> Gaps)
{
    /// <summary>How long a gap must stay missing, even once its writers ended, before it is passed: a writer takes its
    /// number an instant before it writes its first row (and gets a transaction id).</summary>
    public static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(500);

    public static DeliveryCursor At(long delivered) => new(delivered, []);

    /// <summary>The writers whose end would settle a gap: ask the database which of these still run.</summary>
    public IReadOnlyList<ulong> Watched => Gaps.SelectMany(g => g.Writers).Distinct().ToList();

    /// <summary>
    /// What to hand out of <paramref name="committed"/> (the sequence numbers after <see cref="Delivered"/> that one
    /// snapshot sees, ascending): the first <c>Take</c> of them. <paramref name="stillRunning"/> are the
    /// <see cref="Watched"/> writers still running in that snapshot, <paramref name="running"/> all it sees running.
    /// </summary>
    public (int Take, DeliveryCursor Next) Advance(IReadOnlyList<long> committed, IReadOnlySet<ulong> stillRunning,
        IReadOnlySet<ulong> running, DateTimeOffset now, TimeSpan timeout)
    {
        var final = Delivered; // every number up to here is either delivered or will never come
        foreach (var gaps in Gaps)
        {
            var age = now - gaps.Seen;
            if (age >= timeout || (age >= Settle && !gaps.Writers.Overlaps(stillRunning))) final = Math.Max(final, gaps.Top);
        }

        var (position, take) = (Delivered, 0);
        foreach (var sequence in committed)
        {
            if (sequence - 1 > Math.Max(position, final)) break; // a number below this one may still commit
            (position, take) = (sequence, take + 1);
        }

        var open = Gaps.Where(g => g.Top > position).ToList();
        if (take < committed.Count && (open.Count == 0 || open[^1].Top < committed[^1]))
            open.Add(new SequenceGaps(committed[^1], running, now));
        return (take, new DeliveryCursor(position, open));
    }
}
