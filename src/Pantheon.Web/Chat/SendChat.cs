using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using FluentValidation;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Settings;
using Pantheon.Handlers.Chat;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Settings;
using Pantheon.Web.Auth;
using Wolverine;
using Pantheon.Web.OpenApi;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

/// <summary><c>POST /api/chat</c>.</summary>
/// <summary><c>tools: true</c> (with a <c>project_id</c>) lets the model use the project's tools: an agent turn.</summary>
public sealed record SendChat(string? Message, Guid? ProjectId, string? Model, ModelParameters? ModelParameters, bool? Tools = null)
{
    public sealed class Validator : AbstractValidator<SendChat>
    {
        public Validator(ChatDefaults limits)
        {
            RuleFor(x => x.Message).NotEmpty().MaximumLength(limits.MaxMessageCharacters)
                .WithMessage($"message must be 1 to {limits.MaxMessageCharacters} characters (Chat:MaxMessageCharacters).");
            RuleFor(x => x.Model).MaximumLength(200).Matches(@"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$").When(x => x.Model is not null);
            RuleFor(x => x.ProjectId).NotNull().When(x => x.Tools == true)
                .WithMessage("tools needs a project_id: the tools are a project's.");
            RuleFor(x => x.ModelParameters).Custom((parameters, context) =>
            {
                foreach (var (field, message) in parameters?.Errors("model_parameters") ?? []) context.AddFailure(field, message);
            });
        }
    }
}

public sealed record ChatUsage(long InputTokens, long OutputTokens, long TotalTokens);

/// <summary>One tool call of an agent turn: its recorded arguments, its approval's end (if it needed one), its result.</summary>
public sealed record ChatStep(Guid CallId, int Round, string Tool, string Arguments, string? Approval, string Result, bool IsError);

/// <summary>A reply; an agent turn's tool calls in <see cref="Steps"/> (null for a turn without tools).</summary>
public sealed record ChatReply(
    Guid ConversationId, Guid MessageId, string Reply, string Model, string? FinishReason, ChatUsage Usage, IReadOnlyList<ChatStep>? Steps);

/// <summary>
/// Translates HTTP only: the turn is <see cref="ChatTurns"/> (its decisions are <see cref="TurnDecider"/>'s); this
/// answers it as JSON, or as server-sent events when the client asks for a stream.
/// </summary>
public static class SendChatEndpoint
{
    [WolverinePost("/api/chat", OperationId = "SendChat")]
    [ProducesResponseType<ChatReply>(StatusCodes.Status200OK)]
    [ProducesResponseType<Projects.ProjectAccepted>(StatusCodes.Status202Accepted)]
    [ProducesEventStream("With `Accept: text/event-stream`: events `delta` ({\"text\"}), then `done` (conversation_id, message_id, "
        + "model, finish_reason, usage) or, once streaming has begun, `error` ({\"status\", \"message\", \"limit\"}). An agent turn "
        + "(`tools: true`) also sends `tool_call` (call_id, round, tool, arguments), `approval_required` (call_id, tool, arguments, "
        + "expires_at) and `tool_result` (call_id, tool, result, is_error, images) between its deltas.")]
    [ProducesProblems(StatusCodes.Status402PaymentRequired, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity,
        StatusCodes.Status502BadGateway, StatusCodes.Status503ServiceUnavailable, StatusCodes.Status504GatewayTimeout)]
    public static async Task<IResult> Post(
        SendChat command, ClaimsPrincipal principal, HttpContext http, ChatTurns turns, IMessageContext context, ProjectActivity activity,
        AgentProjects projects)
    {
        var tools = command.Tools == true;
        if (command.ProjectId is { } projectId)
        {
            // A chat about a project is activity (idle stop), and needs its VM: a stopped one is started, and the client
            // told to come back (202, the project's status) rather than chatting with a machine that is not there.
            var wake = await context.InvokeAsync<WakeAnswer>(new WakeProject(projectId, principal.UserId()), http.RequestAborted);
            if (!wake.Found) return Results.Problem(Infrastructure.Problems.NotFound("The project"));
            await activity.TouchAsync(projectId, http.RequestAborted);
            if (wake.MustWait && !tools) return Results.Json(new Projects.ProjectAccepted(projectId, wake.Status),
                statusCode: StatusCodes.Status202Accepted);
            // An agent needs the VM itself: the turn waits for it, bounded; a project the wake found ready needs no second look.
            if (tools && wake.Status != ProjectStatus.Ready
                && await projects.WaitReadyAsync(projectId, principal.UserId(), http.RequestAborted) is { } notReady) return NotReady(notReady);
        }
        var message = new SendMessage(
            principal.UserId(), command.Message!, command.ProjectId, command.Model, command.ModelParameters, tools);
        var correlationId = context.CorrelationId is { Length: > 0 } id ? id : Guid.CreateVersion7().ToString();
        var start = await turns.StartAsync(message, correlationId, http.RequestAborted);
        if (start.Refused is { } refused) return Refusal(refused);
        if (start.OverBudget is { } over) return Budgets.BudgetEndpoints.OverBudget(over.Status, over.Estimate);
        return http.WantsEventStream() ? await Stream(start.Call!, http) : Json(await start.Call!.RunAsync(null, http.RequestAborted));
    }

    private static IResult Json(TurnOutcome outcome) => outcome switch
    {
        { Failure: { } failure } => Problem(outcome.Turn, failure),
        { Reply: { End: ReplyEnd.Interrupted } } => Results.Empty,
        { Reply: { } reply } => Results.Json(new ChatReply(
            outcome.Turn.ConversationId, outcome.Turn.MessageId, reply.Text, outcome.Turn.ModelId, Finish(reply), Usage(reply),
            outcome.Steps?.Select(s => new ChatStep(s.CallId, s.Round, s.Tool, s.Arguments, s.Approval, s.Result, s.IsError)).ToList())),
        _ => throw new InvalidOperationException("A turn ends with a reply or a failure."),
    };

    /// <summary>Headers go out with the first text, so a provider that fails at once still gets a proper status.</summary>
    private static async Task<IResult> Stream(ProviderTurn call, HttpContext http)
    {
        var ct = http.RequestAborted;
        var started = false;
        void Start()
        {
            if (started) return;
            http.Response.ContentType = "text/event-stream";
            http.Response.Headers.CacheControl = "no-cache";
            started = true;
        }
        var outcome = await call.RunAsync(async step =>
        {
            Start();
            await (step switch
            {
                DeltaStep d => Write(http, "delta", new { text = d.Text }, ct),
                ToolCallStep c => Write(http, "tool_call", new { call_id = c.CallId, round = c.Round, tool = c.Tool, arguments = c.Arguments }, ct),
                ApprovalStep a => Write(http, "approval_required",
                    new { call_id = a.CallId, tool = a.Tool, arguments = a.Arguments, expires_at = a.ExpiresAt }, ct),
                ToolResultStep r => Write(http, "tool_result",
                    new { call_id = r.CallId, tool = r.Tool, result = r.Result, is_error = r.IsError, images = r.Images }, ct),
                _ => Task.CompletedTask,
            });
        }, ct);

        if (outcome.Failure is { } failure)
        {
            if (!started) return Problem(call.Turn, failure);
            var error = new { status = failure.Status, message = failure.Message, limit = failure.Limit };
            await Write(http, "error", error, CancellationToken.None);
            return Results.Empty;
        }
        var reply = outcome.Reply!;
        if (reply.End == ReplyEnd.Interrupted) return Results.Empty;
        Start();
        var usage = Usage(reply);
        await Write(http, "done", new
        {
            conversation_id = call.Turn.ConversationId, message_id = call.Turn.MessageId, model = call.Turn.ModelId,
            finish_reason = Finish(reply),
            usage = new { input_tokens = usage.InputTokens, output_tokens = usage.OutputTokens, total_tokens = usage.TotalTokens },
        }, ct);
        return Results.Empty;
    }

    private static string? Finish(Reply reply) => reply.End == ReplyEnd.Truncated ? ChatTurn.Truncated : reply.FinishReason;

    private static ChatUsage Usage(Reply reply) => new(reply.TokensIn, reply.TokensOut, reply.TokensIn + reply.TokensOut);

    private static async Task Write(HttpContext http, string name, object data, CancellationToken ct)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    private static IResult NotReady(ProjectNotReady notReady) => Results.Problem(statusCode: 503, title: "The project's VM is not ready",
        detail: notReady.WaitedSeconds is { } seconds
            ? $"The project's VM was not ready within {seconds} s (Chat:ProjectReadySeconds); it is {Live.ProjectUpdateNotifier.Wire(notReady.Status)}."
            : $"The project is {Live.ProjectUpdateNotifier.Wire(notReady.Status)}: its tools cannot run.",
        extensions: new Dictionary<string, object?>
        {
            ["status"] = Live.ProjectUpdateNotifier.Wire(notReady.Status),
            ["limit"] = notReady.WaitedSeconds is null ? null : "Chat:ProjectReadySeconds",
        });

    private static IResult Refusal(TurnRefused refused) => refused.Reason switch
    {
        RefusalReason.ProjectNotFound => Results.Problem(Infrastructure.Problems.NotFound("The project")),
        RefusalReason.ToolsUnavailable => Results.Problem(statusCode: 503, title: "The tools API did not answer", detail: refused.Detail),
        _ => Results.Problem(statusCode: 422, title: "No usable API key", detail: refused.Detail,
            extensions: refused.Provider is null ? null : new Dictionary<string, object?> { ["provider"] = refused.Provider }),
    };

    private static IResult Problem(Turn turn, ProviderFailure failure)
    {
        var extensions = new Dictionary<string, object?>
        {
            ["provider"] = turn.Target.Provider, ["provider_status"] = failure.ProviderStatus,
        };
        if (failure.Limit is not null) extensions["limit"] = failure.Limit;
        var problem = Results.Problem(
            statusCode: failure.Status, title: failure.Title, detail: failure.Message, extensions: extensions);
        return failure.RetryAfter is { } after ? new WithRetryAfter(problem, after) : problem;
    }

    private sealed class WithRetryAfter(IResult inner, TimeSpan after) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            var seconds = (int)Math.Ceiling(Math.Max(0, after.TotalSeconds));
            context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(context);
        }
    }
}
