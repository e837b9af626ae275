using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Budgets;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Budgets;
using Pantheon.Handlers.Infrastructure;
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

/// <summary>
/// How a turn ended: the reply as recorded, or the provider's failure as recorded; an agent turn's tool calls in
/// <see cref="Steps"/>.
/// </summary>
public sealed record TurnOutcome(Turn Turn, Reply? Reply, ProviderFailure? Failure, IReadOnlyList<AgentStep>? Steps = null);

/// <summary>
/// The chat turn flow: what memory lacks in one batched read, the pure <see cref="TurnDecider"/>, the <see cref="MessageSent"/> commit,
/// then (in <see cref="ProviderTurn"/>) the provider call and the recorded outcome.
/// </summary>
public sealed class ChatTurns(
    IDocumentStore store, ActorSessions sessions, ChatSetupCache setups, ConversationCache conversations, ProviderKeys keys,
    ChatClients clients, ChatDefaults defaults, BudgetLedger budgets, IToolHost toolHost, ToolApprovals approvals,
    OpenRouterCatalogue catalogue, TimeProvider time, ILogger<ChatTurns> logger)
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

        // What the turn needs of its conversation and of the user's setup, from memory (a returning user's turn reads nothing
        // before the provider call); what memory lacks, and a project's owner, in one round trip.
        var setup = setups.TryGet(userId, out var cachedSetup) ? cachedSetup : null;
        var conversation = conversations.TryGet(conversationId, out var cachedConversation) ? cachedConversation : null;
        ProjectView? project = null;
        if (setup is null || conversation is null || message.ProjectId is not null)
        {
            var generation = conversations.Generation;
            await using var query = await sessions.ForAsync(new DatabaseActor.User(userId), ct);
            var batch = query.CreateBatchQuery();
            var projectRead = message.ProjectId is { } projectId ? batch.Load<ProjectView>(projectId) : null;
            var streamRead = conversation is null ? batch.Events.FetchStreamState(conversationId) : null;
            var turnsRead = conversation is null
                ? batch.Query<ChatTurnView>(_contextSql, conversationId, defaults.HistoryBudgetCharacters) : null;
            var setupRead = setup is null ? setups.Read(userId, batch) : null;
            await batch.Execute(ct);
            setup ??= await setups.KeepAsync(setupRead!);
            project = projectRead is null ? null : await projectRead;
            if (conversation is null)
            {
                conversation = new ConversationContext((await streamRead!)?.Version ?? 0,
                    (await turnsRead!).OrderBy(t => t.Position).Select(t => t.ToTurn()).ToList());
                conversations.Keep(conversationId, conversation, generation);
            }
        }

        var settings = setup.Settings;
        var userKeys = setup.Keys;
        var version = conversation.Version;
        var state = new TurnState(
            conversationId, version,
            ProjectIsTheirs: message.ProjectId is null || project?.OwnerId == userId,
            settings?.PreferredModel, settings?.ModelParameters,
            setup.Models.Select(m => new CustomModel(
                m.ModelId, m.Endpoint, m.KeyId, ModelParameters.FromJson(m.Parameters).Parameters ?? new(), m.InputModalities)).ToList(),
            userKeys.Keys.Where(k => userKeys.Secrets.Any(s => s.Id == k.Id))
                .Select(k => new UsableKey(k.Id, k.Provider, k.CreatedAt)).ToList(),
            keys.ProvidersWithSystemKey,
            conversation.Turns);

        var decision = TurnDecider.Plan(message, state, new TurnRules(defaults.DefaultModel, defaults.HistoryBudgetCharacters),
            Guid.CreateVersion7(), time.GetUtcNow());
        if (decision is TurnRefused refused) return new TurnStart(refused, null);
        var (turn, sent) = (TurnPlanned)decision;

        // An agent turn needs its project's tools before anything is held or recorded: without them it cannot run.
        AgentRun? agent = null;
        if (message.Tools && project is not null) // tools need a project (validated), and a turn on another's was refused
        {
            // Whether screenshots go as images: for a model OpenRouter serves, its catalogue says (read while the tools are listed).
            var known = ModelInputs.CatalogueId(turn.Target) is null ? Task.FromResult<ModelCatalogue?>(null) : catalogue.GetAsync();
            try
            {
                var session = await toolHost.OpenAsync(project.Id, ct);
                agent = new AgentRun(session, new ToolApproval(project.ToolApproval, project.ApprovalTools), approvals,
                    new AgentRules(defaults.MaxToolRounds, TimeSpan.FromSeconds(defaults.ApprovalTimeoutSeconds)), setup.Budgeted,
                    ModelInputs.TakesImages(turn, await known, defaults.TextOnlyModels));
            }
            catch (ToolsUnavailableException e)
            {
                logger.LogWarning(e, "The tools of project {ProjectId} could not be listed", project.Id);
                return new TurnStart(new TurnRefused(RefusalReason.ToolsUnavailable, e.Message), null);
            }
        }

        var key = keys.ForTarget(userKeys, turn.Target);
        var client = turn.Target.Endpoint is { } endpoint
            ? clients.ForEndpoint(endpoint, turn.Target.Model, key?.Secret)
            : clients.ForProvider(turn.Target.Provider, turn.Target.Model, key?.Secret);

        // The turn's worst case is held before anything is recorded or sent, so concurrent turns cannot overspend. Without a
        // budget in force there is nothing to hold: the turn is charged after its reply, off the path to the first token.
        var estimate = budgets.Estimate([.. turn.Context.Select(t => t.Content), turn.Message], turn.Parameters.MaxTokens);
        var hold = setup.Budgeted ? await budgets.Reserve(userId, estimate, ct, turn.MessageId) : new BudgetDecision(budgets.Unreserved(userId, estimate), null);
        if (hold.Refused is { } status)
        {
            if (agent is not null) await agent.Session.DisposeAsync();
            return new TurnStart(null, null, new OverBudget(status, estimate));
        }

        // The message is kept even when the provider never answers. Its commit runs while the provider is called (ProviderTurn
        // waits for it before recording the outcome, and cancels the call if it fails), from the first text on (MessageRecording).
        var appender = new ConversationAppender(sessions, conversationId, userId, correlationId, version);
        var recording = new MessageRecording(() => appender.AppendAsync([sent], CancellationToken.None), time);
        return new TurnStart(null,
            new ProviderTurn(turn, sent, client, appender, recording, hold.Reservation!, budgets, defaults, agent, time, logger));
    }
}

/// <summary>What a turn hands its caller as it goes: text, and an agent turn's calls, approvals and results.</summary>
public abstract record TurnStep;

public sealed record DeltaStep(string Text) : TurnStep;

public sealed record ToolCallStep(Guid CallId, int Round, string Tool, string Arguments) : TurnStep;

public sealed record ApprovalStep(Guid CallId, string Tool, string Arguments, DateTimeOffset ExpiresAt) : TurnStep;

public sealed record ToolResultStep(Guid CallId, string Tool, string Result, bool IsError, int Images) : TurnStep;

/// <summary>One tool call of an agent turn as its answer reports it: arguments as recorded, the approval's end if it had one.</summary>
public sealed record AgentStep(Guid CallId, int Round, string Tool, string Arguments, string? Approval, string Result, bool IsError);

/// <summary>An agent turn's tools, its project's approval setting, the rules of its rounds, and whether its model takes images.</summary>
public sealed record AgentRun(
    IToolSession Session, ToolApproval Approval, ToolApprovals Approvals, AgentRules Rules, bool Budgeted, bool TakesImages = true);

/// <summary>
/// One turn's provider calls, always streamed from the provider so that every limit holds: the first-token timeout, the
/// idle gap between chunks, the total time, and the reply size (past it the reply is cut and the connection closed). An
/// agent turn (<see cref="AgentRun"/>) loops: each model call that asks for tools is a round whose decisions are
/// <see cref="AgentDecider"/>'s, whose calls run against the project's tools API, and whose steps are recorded on the
/// conversation before the next call; each round holds its own part of the user's budget.
/// </summary>
public sealed class ProviderTurn
{
    private readonly MessageSent _sent;
    private readonly IChatClient _client;
    private readonly ConversationAppender _appender;
    private readonly MessageRecording _recording;
    private readonly BudgetLedger _budgets;
    private readonly ChatDefaults _limits;
    private readonly AgentRun? _agent;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private BudgetReservation _hold;

    internal ProviderTurn(Turn turn, MessageSent sent, IChatClient client, ConversationAppender appender, MessageRecording recording,
        BudgetReservation hold, BudgetLedger budgets, ChatDefaults limits, AgentRun? agent, TimeProvider time, ILogger logger) =>
        (Turn, _sent, _client, _appender, _recording, _hold, _budgets, _limits, _agent, _time, _logger) =
        (turn, sent, client, appender, recording, hold, budgets, limits, agent, time, logger);

    public Turn Turn { get; }

    /// <summary>
    /// Calls the provider, hands each piece of text and each agent step to <paramref name="onStep"/> (when given), and records
    /// the outcome. <paramref name="clientGone"/> cancelled mid-reply records what arrived as interrupted.
    /// </summary>
    public async Task<TurnOutcome> RunAsync(Func<TurnStep, Task>? onStep, CancellationToken clientGone)
    {
        using var unrecorded = new CancellationTokenSource();
        var recording = CancelOnFailure(_recording.Committed, unrecorded);
        var charged = Task.CompletedTask;
        TurnOutcome outcome;
        try
        {
            if (_agent is null)
            {
                outcome = await CallAsync(Messages(), Options(Turn.Parameters), onStep, clientGone, unrecorded.Token);
                charged = Charge(outcome); // awaited with the message's commit below, before anything else is recorded
            }
            else outcome = await AgentAsync(_agent, recording, onStep, clientGone, unrecorded.Token);
        }
        finally
        {
            // The hold is settled to what the reply cost; on any other way out (a failure, an exception) it goes back.
            await _hold.DisposeAsync();
            if (_agent is not null) await _agent.Session.DisposeAsync();
        }

        // A call that ended before the message's commit began (a reply that came at once) records the message and its
        // outcome in one commit, after the charge; otherwise the outcome goes after the message's commit, begun during the call.
        var together = _agent is null && _recording.TakeOver();
        bool committed;
        try
        {
            if (together)
            {
                await charged;
                await _appender.AppendAsync([_sent, .. Recorded(outcome)], CancellationToken.None);
            }
            else await recording; // the message's commit, begun before the call: the outcome goes after it
            committed = true;
        }
        catch (Exception e) when (!clientGone.IsCancellationRequested || e is not OperationCanceledException)
        {
            committed = false;
        }
        finally
        {
            // The reply's charge runs beside the wait for the commit (one round trip less before the reply's end), and
            // counts before anything after it: a charge that failed fails the turn here, as it did when it ran first.
            await charged;
        }
        if (!committed)
        {
            // The message did not commit (the call was cancelled, or its reply could not be recorded with it): record the
            // message with its failure in one go.
            var failure = ProviderFailure.NotRecorded();
            await _appender.AppendAsync([_sent, .. TurnDecider.Failed(Turn, null, failure.Message, _time.GetUtcNow())], CancellationToken.None);
            return Failed(failure);
        }
        if (!together) await _appender.AppendAsync(Recorded(outcome), CancellationToken.None, closes: Turn.MessageId);
        return outcome;
    }

    /// <summary>The events that record a turn's outcome: its reply, or its failure.</summary>
    private object[] Recorded(TurnOutcome outcome)
    {
        var now = _time.GetUtcNow();
        return outcome.Reply is { } replied
            ? TurnDecider.Replied(Turn, replied, now)
            : TurnDecider.Failed(Turn, outcome.Failure!.ProviderStatus, outcome.Failure.Message, now);
    }

    /// <summary>The provider has spent these tokens whether or not anything after commits, so they count first.</summary>
    private async Task<TurnOutcome> SettledAsync(TurnOutcome round)
    {
        await Charge(round);
        return round;
    }

    /// <summary>Settles the hold to what the round's reply cost (a round without a reply leaves it to be given back).</summary>
    private Task Charge(TurnOutcome round) => round.Reply is { } reply
        ? _hold.Settle(reply.TokensIn + reply.TokensOut is > 0 and var tokens ? tokens : null, reply.Text.Length)
        : Task.CompletedTask;

    private async Task<TurnOutcome> AgentAsync(
        AgentRun agent, Task recording, Func<TurnStep, Task>? onStep, CancellationToken clientGone, CancellationToken unrecorded)
    {
        var messages = Messages();
        var options = Options(Turn.Parameters);
        options.Tools = [.. agent.Session.Tools];
        options.ToolMode = ChatToolMode.Auto;
        var (text, steps) = (new StringBuilder(), new List<AgentStep>());
        long tokensIn = 0, tokensOut = 0, latency = 0;
        TurnOutcome Ended(ReplyEnd end, string? finish) =>
            new(Turn, new Reply(text.ToString(), finish, tokensIn, tokensOut, latency, end), null, steps);

        for (var round = 1; ; round++)
        {
            if (round > 1 && await HoldNextRoundAsync(agent, messages, round) is { } spent) return spent with { Steps = steps };
            var calls = new List<FunctionCallContent>();
            var called = await SettledAsync(await CallAsync(messages, options, onStep, clientGone, unrecorded, calls));
            if (called.Reply is not { } reply) return called with { Steps = steps };
            text.Append(reply.Text);
            (tokensIn, tokensOut, latency) = (tokensIn + reply.TokensIn, tokensOut + reply.TokensOut, latency + reply.LatencyMs);
            if (reply.End != ReplyEnd.Complete) return Ended(reply.End, reply.FinishReason);

            var requested = calls.Select(c => new RequestedCall(c.CallId, c.Name, Arguments(c))).ToList();
            switch (AgentDecider.Round(Turn, round, requested, agent.Approval, agent.Rules, Guid.CreateVersion7, _time.GetUtcNow()))
            {
                case RoundAnswered:
                    return Ended(ReplyEnd.Complete, reply.FinishReason);
                case RoundsExhausted exhausted:
                    text.Append(text.Length > 0 ? "\n\n" : "").Append(exhausted.Notice);
                    if (onStep is not null) await onStep(new DeltaStep(exhausted.Notice));
                    return Ended(ReplyEnd.Complete, AgentDecider.RoundsExhaustedReason);
                case RunCalls run:
                    try
                    {
                        await recording; // the steps go after the message
                    }
                    catch (Exception)
                    {
                        return Failed(ProviderFailure.NotRecorded()); // RunAsync records the message with its failure
                    }
                    if (!await _appender.AppendAsync(run.Events, CancellationToken.None, closes: Turn.MessageId))
                        return Ended(ReplyEnd.Interrupted, ChatTurn.Interrupted); // closed meanwhile as abandoned
                    messages.Add(new ChatMessage(ChatRole.Assistant,
                        [.. reply.Text.Length > 0 ? [new TextContent(reply.Text)] : Array.Empty<AIContent>(), .. calls]));
                    try
                    {
                        await RunCallsAsync(agent, run, round, messages, steps, onStep, clientGone);
                    }
                    catch (OperationCanceledException) when (clientGone.IsCancellationRequested)
                    {
                        return Ended(ReplyEnd.Interrupted, ChatTurn.Interrupted);
                    }
                    catch (TurnClosedException)
                    {
                        return Ended(ReplyEnd.Interrupted, ChatTurn.Interrupted);
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// Each call in order: announced, held for approval when the project's setting says so, run against the tools API (or
    /// answered with why not), its result recorded and added for the model; a screenshot follows as an image (for a model that
    /// takes images; any other reads a line about it in the result).
    /// </summary>
    private async Task RunCallsAsync(AgentRun agent, RunCalls run, int round, List<ChatMessage> messages, List<AgentStep> steps,
        Func<TurnStep, Task>? onStep, CancellationToken clientGone)
    {
        var images = new List<AIContent>();
        foreach (var call in run.Calls)
        {
            var recorded = run.Events.OfType<ToolCallRequested>().Single(e => e.CallId == call.CallId).Arguments;
            if (onStep is not null) await onStep(new ToolCallStep(call.CallId, round, call.Request.Tool, recorded));
            string? approval = null;
            if (call.NeedsApproval)
            {
                var asked = AgentDecider.AwaitApproval(Turn, call, agent.Rules, _time.GetUtcNow());
                await agent.Approvals.OpenAsync(call.CallId, Turn.UserId, Turn.ConversationId, Turn.MessageId, call.Request.Tool,
                    asked.ExpiresAt, clientGone);
                await AppendStepAsync([asked]);
                if (onStep is not null) await onStep(new ApprovalStep(call.CallId, call.Request.Tool, recorded, asked.ExpiresAt));
                approval = await agent.Approvals.WaitAsync(call.CallId, asked.ExpiresAt, clientGone);
                var (events, refusal) = AgentDecider.Answered(Turn, call, approval, agent.Rules.ApprovalTimeout, _time.GetUtcNow());
                await AppendStepAsync(events);
                if (refusal is not null)
                {
                    await ResultAsync(call, refusal, isError: true, 0);
                    continue;
                }
            }

            var watch = Stopwatch.StartNew();
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(clientGone);
            bound.CancelAfter(TimeSpan.FromSeconds(_limits.MaxReplySeconds));
            ToolOutcome outcome;
            try
            {
                outcome = await agent.Session.CallAsync(call.Request.Tool, Arguments(call.Request.Arguments), bound.Token);
            }
            catch (OperationCanceledException) when (!clientGone.IsCancellationRequested)
            {
                outcome = new ToolOutcome($"The call did not finish within {_limits.MaxReplySeconds} s (Chat:MaxReplySeconds).", [], true);
            }
            var result = outcome.Text.Length > 0 ? outcome.Text : outcome.IsError ? "The call failed." : "Done.";
            // A model that takes no images is told what it would have seen, in words: an image part would fail its call.
            if (!agent.TakesImages && outcome.Images.Count > 0)
                result = string.Join("\n",
                    [result, .. outcome.Images.Select(i => ModelInputs.NotShown(call.Request.Tool, i.Data, i.MediaType))]);
            await AppendStepAsync([AgentDecider.Returned(Turn, call, result, outcome.IsError, watch.ElapsedMilliseconds, _time.GetUtcNow())]);
            await ResultAsync(call, result, outcome.IsError, outcome.Images.Count);
            foreach (var image in agent.TakesImages ? outcome.Images : [])
                images.AddRange([new TextContent($"The image {call.Request.Tool} returned ({call.Request.ProviderCallId}):"),
                    new DataContent(image.Data, image.MediaType)]);

            async Task ResultAsync(PlannedCall planned, string text, bool isError, int imageCount)
            {
                messages.Add(new ChatMessage(ChatRole.Tool,
                    [new FunctionResultContent(planned.Request.ProviderCallId, text) { Exception = isError ? new ToolCallFailed(text) : null }]));
                steps.Add(new AgentStep(planned.CallId, round, planned.Request.Tool, recorded, approval, text, isError));
                if (onStep is not null) await onStep(new ToolResultStep(planned.CallId, planned.Request.Tool, text, isError, imageCount));
            }
        }
        // Images cannot travel in a tool message to every provider: they follow the results as the user's own.
        if (images.Count > 0) messages.Add(new ChatMessage(ChatRole.User, images));
    }

    private async Task AppendStepAsync(object[] events)
    {
        if (!await _appender.AppendAsync(events, CancellationToken.None, closes: Turn.MessageId)) throw new TurnClosedException();
    }

    /// <summary>Holds the next round's worst case; a user whose month has no room left ends the turn with a 402.</summary>
    private async Task<TurnOutcome?> HoldNextRoundAsync(AgentRun agent, List<ChatMessage> messages, int round)
    {
        var estimate = _budgets.Estimate(messages.Select(m => string.Concat(m.Contents.Select(ContentText))), Turn.Parameters.MaxTokens);
        if (!agent.Budgeted)
        {
            _hold = _budgets.Unreserved(Turn.UserId, estimate);
            return null;
        }
        // The turn's message id again: whoever closes the turn as abandoned gives this hold back.
        var decision = await _budgets.Reserve(Turn.UserId, estimate, CancellationToken.None, Turn.MessageId);
        if (decision.Reservation is { } held)
        {
            _hold = held;
            return null;
        }
        return Failed(new ProviderFailure(402, null,
            $"The monthly token budget has no room for round {round} of the agent turn ({estimate.Total} tokens held per round).", null,
            "Budgets", "Budget spent"));
    }

    private static string ContentText(AIContent content) => content switch
    {
        TextContent t => t.Text,
        FunctionCallContent c => c.Name + JsonSerializer.Serialize(c.Arguments),
        FunctionResultContent r => r.Result?.ToString() ?? "",
        _ => "",
    };

    private static IReadOnlyDictionary<string, JsonElement> Arguments(FunctionCallContent call) =>
        (call.Arguments ?? new Dictionary<string, object?>()).ToDictionary(a => a.Key,
            a => a.Value is JsonElement e ? e : JsonSerializer.SerializeToElement(a.Value));

    private static Dictionary<string, object?> Arguments(IReadOnlyDictionary<string, JsonElement> arguments) =>
        arguments.ToDictionary(a => a.Key, a => (object?)a.Value);

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

    /// <summary>One model call; the tools it asks for go to <paramref name="calls"/>. The message's commit starts by its end.</summary>
    private async Task<TurnOutcome> CallAsync(List<ChatMessage> messages, ChatOptions options, Func<TurnStep, Task>? onStep,
        CancellationToken clientGone, CancellationToken unrecorded, List<FunctionCallContent>? calls = null)
    {
        try
        {
            return await StreamAsync(messages, options, onStep, clientGone, unrecorded, calls);
        }
        finally
        {
            _recording.Start();
        }
    }

    private async Task<TurnOutcome> StreamAsync(List<ChatMessage> messages, ChatOptions options, Func<TurnStep, Task>? onStep,
        CancellationToken clientGone, CancellationToken unrecorded, List<FunctionCallContent>? calls = null)
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
            await foreach (var update in _client.GetStreamingResponseAsync(messages, options, call.Token))
            {
                updates++;
                gap.CancelAfter(TimeSpan.FromSeconds(_limits.IdleTimeoutSeconds));
                foreach (var content in update.Contents)
                    if (content is UsageContent u) usage = u.Details;
                    else if (content is FunctionCallContent f) calls?.Add(f);
                finish = update.FinishReason?.Value ?? finish;
                if (update.Text is not { Length: > 0 } delta) continue;
                var room = _limits.MaxReplyCharacters - text.Length;
                if (delta.Length > room) (delta, end) = (delta[..room], ReplyEnd.Truncated);
                text.Append(delta);
                if (delta.Length > 0 && onStep is not null) await onStep(new DeltaStep(delta));
                _recording.Start(); // the first text is out: the message's commit no longer competes with it
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

    /// <summary>A tool's error, as the model's provider client marks its result (Anthropic's <c>is_error</c>).</summary>
    private sealed class ToolCallFailed(string message) : Exception(message);

    /// <summary>The turn was closed meanwhile (recorded as abandoned): it stops where it is.</summary>
    private sealed class TurnClosedException : Exception;
}
