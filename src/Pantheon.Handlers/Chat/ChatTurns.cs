using System.Diagnostics;
using System.Text;
using Marten;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Budgets;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Budgets;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Keys;
using Pantheon.Projections.Projects;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// A turn's start: refused (nothing recorded), over the user's monthly budget (nothing recorded), or its worst case held,
/// its message recorded and the provider call ready to run.
/// </summary>
public sealed record TurnStart(TurnRefused? Refused, ProviderTurn? Call, OverBudget? OverBudget = null);

/// <summary>The turn's worst case does not fit the user's month as it stands.</summary>
public sealed record OverBudget(BudgetStatus Status, BudgetEstimate Estimate);

/// <summary>How a turn ended: the reply as recorded, or the provider's failure as recorded.</summary>
public sealed record TurnOutcome(Turn Turn, Reply? Reply, ProviderFailure? Failure);

/// <summary>
/// The chat turn flow: one batched read, the pure <see cref="TurnDecider"/>, the <see cref="MessageSent"/> commit,
/// then (in <see cref="ProviderTurn"/>) the provider call and the recorded outcome.
/// </summary>
public sealed class ChatTurns(
    IDocumentStore store, ChatSetupCache setups, ProviderKeys keys, ChatClients clients, ChatDefaults defaults, BudgetLedger budgets,
    TimeProvider time, ILogger<ChatTurns> logger)
{
    // The newest turns whose running length fits the budget: the rest of a long conversation is never read.
    private readonly string _contextSql =
        $"where id in (select x.id from (select id, sum(context_length) over (order by position desc) as spent " +
        $"from {store.Options.DatabaseSchemaName}.mt_doc_chatturnview where conversation_id = ? and context_length > 0) x " +
        "where x.spent <= ?)";

    public async Task<TurnStart> StartAsync(SendMessage message, string correlationId, CancellationToken ct)
    {
        var userId = message.UserId;
        var conversationId = UserId.ConversationStreamFor(userId, message.ProjectId);

        // What the turn needs of its conversation, in one round trip; the user's own setup from memory, else in the same batch.
        await using var query = store.QuerySession();
        var batch = query.CreateBatchQuery();
        var projectRead = message.ProjectId is { } projectId ? batch.Load<ProjectView>(projectId) : Task.FromResult<ProjectView?>(null);
        var streamRead = batch.Events.FetchStreamState(conversationId);
        var turnsRead = batch.Query<ChatTurnView>(_contextSql, conversationId, defaults.HistoryBudgetCharacters);
        var setupRead = setups.TryGet(userId, out var cached) ? null : setups.Read(userId, batch);
        await batch.Execute(ct);
        var setup = cached ?? await setups.KeepAsync(setupRead!);

        var settings = setup.Settings;
        var userKeys = setup.Keys;
        var version = (await streamRead)?.Version ?? 0;
        var state = new TurnState(
            conversationId, version,
            ProjectIsTheirs: message.ProjectId is null || (await projectRead)?.OwnerId == userId,
            settings?.PreferredModel, settings?.ModelParameters,
            setup.Models.Select(m =>
                new CustomModel(m.ModelId, m.Endpoint, m.KeyId, ModelParameters.FromJson(m.Parameters).Parameters ?? new())).ToList(),
            userKeys.Keys.Where(k => userKeys.Secrets.Any(s => s.Id == k.Id))
                .Select(k => new UsableKey(k.Id, k.Provider, k.CreatedAt)).ToList(),
            keys.ProvidersWithSystemKey,
            (await turnsRead).OrderBy(t => t.Position).Select(t => t.ToTurn()).ToList());

        var decision = TurnDecider.Plan(message, state, new TurnRules(defaults.DefaultModel, defaults.HistoryBudgetCharacters),
            Guid.CreateVersion7(), time.GetUtcNow());
        if (decision is TurnRefused refused) return new TurnStart(refused, null);
        var (turn, sent) = (TurnPlanned)decision;

        var key = keys.ForTarget(userKeys, turn.Target);
        var client = turn.Target.Endpoint is { } endpoint
            ? clients.ForEndpoint(endpoint, turn.Target.Model, key?.Secret)
            : clients.ForProvider(turn.Target.Provider, turn.Target.Model, key?.Secret);

        // The turn's worst case is held before anything is recorded or sent, so concurrent turns cannot overspend. Without a
        // budget in force there is nothing to hold: the turn is charged after its reply, off the path to the first token.
        var estimate = budgets.Estimate([.. turn.Context.Select(t => t.Content), turn.Message], turn.Parameters.MaxTokens);
        var hold = setup.Budgeted ? await budgets.Reserve(userId, estimate, ct, turn.MessageId) : new BudgetDecision(budgets.Unreserved(userId, estimate), null);
        if (hold.Refused is { } status) return new TurnStart(null, null, new OverBudget(status, estimate));

        // The message is kept even when the provider never answers. Its commit runs while the provider is called
        // (ProviderTurn waits for it before recording the outcome, and cancels the call if it fails). It starts on the thread
        // pool: building the commit (the inline projections, the SQL) would otherwise run before the call is made.
        var appender = new ConversationAppender(store, conversationId, userId, correlationId, version);
        var recording = Task.Run(() => appender.AppendAsync([sent], CancellationToken.None));
        return new TurnStart(null, new ProviderTurn(turn, sent, client, appender, recording, hold.Reservation!, defaults, time, logger));
    }
}

/// <summary>
/// One provider call, always streamed from the provider so that every limit holds: the first-token timeout, the
/// idle gap between chunks, the total time, and the reply size (past it the reply is cut and the connection closed).
/// </summary>
public sealed class ProviderTurn
{
    private readonly MessageSent _sent;
    private readonly IChatClient _client;
    private readonly ConversationAppender _appender;
    private readonly Task _recording;
    private readonly BudgetReservation _budget;
    private readonly ChatDefaults _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    internal ProviderTurn(Turn turn, MessageSent sent, IChatClient client, ConversationAppender appender, Task recording,
        BudgetReservation budget, ChatDefaults limits, TimeProvider time, ILogger logger) =>
        (Turn, _sent, _client, _appender, _recording, _budget, _limits, _time, _logger) =
        (turn, sent, client, appender, recording, budget, limits, time, logger);

    public Turn Turn { get; }

    /// <summary>
    /// Calls the provider, hands each piece of text to <paramref name="onDelta"/> (when given), and records the
    /// outcome. <paramref name="clientGone"/> cancelled mid-reply records what arrived as interrupted.
    /// </summary>
    public async Task<TurnOutcome> RunAsync(Func<string, Task>? onDelta, CancellationToken clientGone)
    {
        // The hold is settled to what the reply cost; on any other way out (a failure, an exception) it goes back.
        await using var budget = _budget;
        using var unrecorded = new CancellationTokenSource();
        var recording = CancelOnFailure(_recording, unrecorded);
        var outcome = await CallAsync(onDelta, clientGone, unrecorded.Token);
        // The provider has spent these tokens whether or not anything below commits, so they count first.
        if (outcome.Reply is { } reply)
            await budget.Settle(reply.TokensIn + reply.TokensOut is > 0 and var tokens ? tokens : null, reply.Text.Length);

        try
        {
            await recording; // the message's commit, begun before the call: the outcome goes after it
        }
        catch (Exception e) when (!clientGone.IsCancellationRequested || e is not OperationCanceledException)
        {
            // The message did not commit, so the call was cancelled: record the message with its failure in one go.
            var failure = ProviderFailure.NotRecorded();
            await _appender.AppendAsync([_sent, .. TurnDecider.Failed(Turn, null, failure.Message, _time.GetUtcNow())], CancellationToken.None);
            return Failed(failure);
        }
        var now = _time.GetUtcNow();
        var events = outcome.Reply is { } replied
            ? TurnDecider.Replied(Turn, replied, now)
            : TurnDecider.Failed(Turn, outcome.Failure!.ProviderStatus, outcome.Failure.Message, now);
        await _appender.AppendAsync(events, CancellationToken.None, closes: Turn.MessageId);
        return outcome;
    }

    /// <summary>The commit of the turn's message; if it fails, <paramref name="cancel"/> stops the provider call at once.</summary>
    private static async Task CancelOnFailure(Task recording, CancellationTokenSource cancel)
    {
        try
        {
            await recording;
        }
        catch
        {
            await cancel.CancelAsync();
            throw;
        }
    }

    private async Task<TurnOutcome> CallAsync(Func<string, Task>? onDelta, CancellationToken clientGone, CancellationToken unrecorded)
    {
        var provider = Turn.Target.Provider;
        var watch = Stopwatch.StartNew();
        using var total = new CancellationTokenSource(TimeSpan.FromSeconds(_limits.MaxReplySeconds));
        using var gap = new CancellationTokenSource(TimeSpan.FromSeconds(_limits.TimeoutSeconds));
        using var cut = new CancellationTokenSource();
        using var call = CancellationTokenSource.CreateLinkedTokenSource(clientGone, total.Token, gap.Token, cut.Token, unrecorded);
        var text = new StringBuilder();
        UsageDetails? usage = null;
        string? finish = null;
        var (updates, end) = (0, ReplyEnd.Complete);
        try
        {
            await foreach (var update in _client.GetStreamingResponseAsync(Messages(), Options(Turn.Parameters), call.Token))
            {
                updates++;
                gap.CancelAfter(TimeSpan.FromSeconds(_limits.IdleTimeoutSeconds));
                foreach (var content in update.Contents.OfType<UsageContent>()) usage = content.Details;
                finish = update.FinishReason?.Value ?? finish;
                if (update.Text is not { Length: > 0 } delta) continue;
                var room = _limits.MaxReplyCharacters - text.Length;
                if (delta.Length > room) (delta, end) = (delta[..room], ReplyEnd.Truncated);
                text.Append(delta);
                if (delta.Length > 0 && onDelta is not null) await onDelta(delta);
                if (end == ReplyEnd.Truncated)
                {
                    cut.Cancel(); // leaving the loop disposes the response: the provider's connection closes
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cut.IsCancellationRequested)
        {
            // cut at the size limit: what arrived is the reply
        }
        catch (Exception) when (unrecorded.IsCancellationRequested)
        {
            return Failed(ProviderFailure.NotRecorded()); // the message did not commit: RunAsync says why
        }
        catch (Exception) when (clientGone.IsCancellationRequested)
        {
            end = ReplyEnd.Interrupted; // the client left: keep what arrived
        }
        catch (OperationCanceledException) when (total.IsCancellationRequested)
        {
            return Failed(ProviderFailure.TimedOut(provider, "did not finish its reply", "Chat:MaxReplySeconds", _limits.MaxReplySeconds));
        }
        catch (OperationCanceledException) when (gap.IsCancellationRequested)
        {
            return Failed(updates == 0
                ? ProviderFailure.TimedOut(provider, "did not answer", "Chat:TimeoutSeconds", _limits.TimeoutSeconds)
                : ProviderFailure.TimedOut(provider, "went silent mid-reply", "Chat:IdleTimeoutSeconds", _limits.IdleTimeoutSeconds));
        }
        catch (Exception e) when (ProviderFailure.From(e, provider, timedOut: false) is { } failure)
        {
            return Failed(failure);
        }
        if (updates == 0 && end != ReplyEnd.Interrupted) return Failed(ProviderFailure.Malformed(provider, "the stream held no events."));

        var (tokensIn, tokensOut) = (usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0);
        var reply = new Reply(text.ToString(), finish, tokensIn, tokensOut, watch.ElapsedMilliseconds, end);
        return new TurnOutcome(Turn, reply, null);
    }

    private TurnOutcome Failed(ProviderFailure failure) => new(Turn, null, failure);

    private List<ChatMessage> Messages() =>
    [
        .. Turn.Context.Select(t => new ChatMessage(t.Role == TurnRole.User ? ChatRole.User : ChatRole.Assistant, t.Content)),
        new ChatMessage(ChatRole.User, Turn.Message),
    ];

    /// <summary>The allowlisted parameters, as <see cref="ChatOptions"/> every provider client maps to its wire format.</summary>
    private static ChatOptions Options(ModelParameters p) => new()
    {
        Temperature = (float?)p.Temperature,
        TopP = (float?)p.TopP,
        MaxOutputTokens = p.MaxTokens,
        StopSequences = p.Stop?.ToList(),
        Seed = p.Seed,
        PresencePenalty = (float?)p.PresencePenalty,
        FrequencyPenalty = (float?)p.FrequencyPenalty,
    };
}
