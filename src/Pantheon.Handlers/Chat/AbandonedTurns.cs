using System.Diagnostics;
using Marten;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Chat;
using Pantheon.Handlers.Budgets;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Chat;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// Closes turns whose process died mid-reply: a message with no outcome past <c>Chat:MaxReplySeconds</c> plus
/// <c>Chat:AbandonedTurnMarginSeconds</c> (for an agent turn, counted from its last step or a pending approval's expiry:
/// <see cref="OpenTurn.ActiveAt"/>, so a long run that is alive is never closed) gets <see cref="ReplyInterrupted"/> (with the turn's correlation id and user) and
/// its budget hold back, in one transaction. Runs at start-up and every <c>Chat:AbandonedTurnSweepSeconds</c> in every
/// process; the append states the conversation's version it read before it checked that the turn is still open, so of
/// several sweepers (and the turn's own process, see <see cref="ConversationAppender"/>) exactly one closes a turn. A live
/// process ends every reply within the limit, so a turn still streaming is never closed.
/// </summary>
public sealed class AbandonedTurns(
    ActorSessions sessions, BudgetLedger budgets, ChatDefaults limits, TimeProvider time, ILogger<AbandonedTurns> logger)
    : BackgroundService
{
    private const int BatchSize = 200;

    /// <summary>The sweeper acts for no user: it reads every user's open turns and closes them for their users.</summary>
    private static readonly DatabaseActor Sweeper = new DatabaseActor.System("abandoned-turn sweeper");

    /// <summary>Closes every abandoned turn there is now; returns how many this call closed.</summary>
    public async Task<int> SweepAsync(CancellationToken ct)
    {
        var (maxReply, margin) = (TimeSpan.FromSeconds(limits.MaxReplySeconds), TimeSpan.FromSeconds(limits.AbandonedTurnMarginSeconds));
        var watch = Stopwatch.StartNew();
        var closed = 0;
        while (true)
        {
            var now = time.GetUtcNow();
            var cutoff = now - maxReply - margin;
            IReadOnlyList<OpenTurn> due;
            await using (var query = await sessions.ForAsync(Sweeper, ct))
                due = await query.Query<OpenTurn>().Where(t => t.SentAt < cutoff && (t.ActiveAt == null || t.ActiveAt < cutoff))
                    .OrderBy(t => t.SentAt).Take(BatchSize).ToListAsync(ct);
            var before = closed;
            foreach (var turn in due.Where(t => TurnDecider.IsAbandoned(t.DueFrom(), now, maxReply, margin)))
                if (await CloseAsync(turn, ct)) closed++;
            if (due.Count < BatchSize || closed == before) break;
        }
        if (closed > 0)
            logger.LogWarning("Recorded {Count} abandoned chat turns as interrupted in {Elapsed} ms", closed, watch.ElapsedMilliseconds);
        return closed;
    }

    private async Task<bool> CloseAsync(OpenTurn turn, CancellationToken ct)
    {
        while (true)
        {
            await using var session = await sessions.ForAsync(Sweeper, ct);
            // The version first, then whether the turn is open: an outcome that commits between the two reads is seen by the
            // second, and one that commits after both makes the versioned append below fail.
            var version = (await session.Events.FetchStreamStateAsync(turn.ConversationId, ct))?.Version ?? 0;
            if (await session.LoadAsync<OpenTurn>(turn.Id, ct) is null) return false;
            var sent = await session.Events.FetchStreamAsync(
                turn.ConversationId, version: turn.Position, fromVersion: turn.Position, token: ct);
            session.CorrelationId = sent.FirstOrDefault()?.CorrelationId;
            session.LastModifiedBy = turn.UserId;
            session.Events.Append(turn.ConversationId, version + 1,
                TurnDecider.Abandoned(turn.ConversationId, turn.Id, turn.Model, time.GetUtcNow()));
            session.QueueSqlCommand(budgets.ReleaseSql, turn.Id);
            try
            {
                await session.SaveChangesAsync(ct);
                return true;
            }
            catch (Exception e) when (ConversationAppender.IsLostRace(e))
            {
                // Something else was appended to the conversation first (perhaps this turn's end): look again.
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = TimeSpan.FromSeconds(limits.AbandonedTurnSweepSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = interval;
            try
            {
                await SweepAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The database may not answer (yet): try again soon rather than a whole interval later.
                logger.LogWarning(e, "Sweeping abandoned chat turns failed; trying again");
                wait = TimeSpan.FromSeconds(Math.Min(5, limits.AbandonedTurnSweepSeconds));
            }
            await Task.Delay(wait, time, stoppingToken);
        }
    }
}
