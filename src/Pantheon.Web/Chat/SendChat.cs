using System.Diagnostics;
using System.Security.Claims;
using System.Text.Json;
using FluentValidation;
using Marten;
using Microsoft.Extensions.AI;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Chat;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Keys;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

/// <summary><c>POST /api/chat</c>.</summary>
public sealed record SendChat(string? Message, Guid? ProjectId, string? Model, ModelParameters? ModelParameters)
{
    public const int MaxMessageLength = 100_000;

    public sealed class Validator : AbstractValidator<SendChat>
    {
        public Validator()
        {
            RuleFor(x => x.Message).NotEmpty().MaximumLength(MaxMessageLength);
            RuleFor(x => x.Model).MaximumLength(200).Matches(@"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$").When(x => x.Model is not null);
            RuleFor(x => x.ModelParameters!.Temperature)
                .InclusiveBetween(ModelParameters.MinTemperature, ModelParameters.MaxTemperature)
                .When(x => x.ModelParameters?.Temperature is not null).OverridePropertyName("model_parameters.temperature");
            RuleFor(x => x.ModelParameters!.MaxTokens)
                .InclusiveBetween(ModelParameters.MinMaxTokens, ModelParameters.MaxMaxTokens)
                .When(x => x.ModelParameters?.MaxTokens is not null).OverridePropertyName("model_parameters.max_tokens");
        }
    }
}

public sealed record ChatUsage(long InputTokens, long OutputTokens, long TotalTokens);

public sealed record ChatReply(Guid ConversationId, Guid MessageId, string Reply, string Model, string? FinishReason, ChatUsage Usage);

public static class SendChatEndpoint
{
    /// <summary>
    /// Records <see cref="MessageSent"/>, calls the provider, then records the reply (or the failure) and its usage.
    /// Two commits on purpose: the message is kept even when the provider never answers.
    /// </summary>
    [WolverinePost("/api/chat", OperationId = "SendChat")]
    public static async Task<IResult> Post(SendChat command, ClaimsPrincipal principal, HttpContext http, IDocumentStore store,
        ProviderKeys keys, ChatClients clients, ChatDefaults defaults, ChatSetupCache setups, TimeProvider time)
    {
        var userId = principal.UserId();
        var ct = http.RequestAborted;
        var conversationId = UserId.ConversationStreamFor(userId, command.ProjectId);

        // Everything the call needs, in one round trip to PostgreSQL.
        await using var query = store.QuerySession();
        var batch = query.CreateBatchQuery();
        var projectRead = command.ProjectId is { } projectId ? batch.Load<ProjectView>(projectId) : Task.FromResult<ProjectView?>(null);
        var historyRead = batch.Load<ChatHistory>(conversationId);
        await batch.Execute(ct);
        var setup = await setups.GetAsync(userId, query, ct);

        if (command.ProjectId is not null && (await projectRead)?.OwnerId != userId)
            return Results.Problem(Problems.NotFound("The project"));

        var settings = setup.Settings;
        var modelId = command.Model ?? settings?.PreferredModel ?? defaults.Model;
        var parameters = Merge(command.ModelParameters, settings?.ModelParameters ?? UserSettings.DefaultParameters);
        var userKeys = setup.Keys;

        // Route: the user's own model by its id, else a provider by the id's prefix.
        var custom = setup.Models.FirstOrDefault(m => m.ModelId == modelId);
        string provider;
        IChatClient client;
        Guid? keyId;
        if (custom is not null)
        {
            var key = custom.KeyId is { } id ? keys.ById(userKeys, id) : null;
            if (custom.KeyId is not null && key is null)
                return Results.Problem(statusCode: 422, title: "No usable API key", detail: $"The key of custom model '{modelId}' was revoked.");
            (provider, keyId, client) = ("custom", key?.KeyId, clients.ForEndpoint(custom.Endpoint, custom.ModelId, key?.Secret));
            parameters = Merge(parameters, new ModelParameters { Extra = custom.Parameters });
        }
        else
        {
            var route = ModelRoute.For(modelId);
            var key = keys.ForProvider(userKeys, route.Provider);
            if (key is null)
                return Results.Problem(statusCode: 422, title: "No usable API key",
                    detail: $"There is no API key for provider '{route.Provider}': add one under /api/user/api-keys.",
                    extensions: new Dictionary<string, object?> { ["provider"] = route.Provider });
            (provider, keyId, client) = (route.Provider, key.KeyId, clients.ForProvider(route.Provider, route.Model, key.Secret));
        }

        var history = await historyRead;
        var messages = ChatHistory.Context(history?.Turns ?? [], defaults.HistoryBudgetCharacters)
            .Select(t => new ChatMessage(t.Role == TurnRole.User ? ChatRole.User : ChatRole.Assistant, t.Content))
            .Append(new ChatMessage(ChatRole.User, command.Message!))
            .ToList();

        var messageId = Guid.CreateVersion7();
        await Record(store, conversationId, CancellationToken.None,
            new MessageSent(conversationId, messageId, userId, command.ProjectId, command.Message!, modelId, time.GetUtcNow()));

        var call = new ProviderCall(store, client, messages, Options(parameters), conversationId, messageId, userId, provider, modelId, keyId, defaults, time);
        return http.WantsEventStream() ? await call.StreamAsync(http) : await call.CompleteAsync(ct);
    }

    internal static async Task Record(IDocumentStore store, Guid conversationId, CancellationToken ct, params object[] events)
    {
        await using var session = store.LightweightSession();
        session.Events.Append(conversationId, events);
        await session.SaveChangesAsync(ct);
    }

    private static ModelParameters Merge(ModelParameters? over, ModelParameters under) => new()
    {
        Temperature = over?.Temperature ?? under.Temperature,
        MaxTokens = over?.MaxTokens ?? under.MaxTokens,
        Extra = (under.Extra ?? []).Concat(over?.Extra ?? []).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Last().Value),
    };

    /// <summary>
    /// The well-known parameters map to <see cref="ChatOptions"/>, which every provider client sends; anything else
    /// rides in <see cref="ChatOptions.AdditionalProperties"/> (sent as given by the Anthropic client).
    /// </summary>
    private static ChatOptions Options(ModelParameters p)
    {
        var options = new ChatOptions { Temperature = (float?)p.Temperature, MaxOutputTokens = p.MaxTokens };
        foreach (var (name, value) in p.Extra ?? [])
        {
            switch (name)
            {
                case "top_p" when value.ValueKind == JsonValueKind.Number: options.TopP = value.GetSingle(); break;
                case "top_k" when value.ValueKind == JsonValueKind.Number: options.TopK = value.GetInt32(); break;
                case "frequency_penalty" when value.ValueKind == JsonValueKind.Number: options.FrequencyPenalty = value.GetSingle(); break;
                case "presence_penalty" when value.ValueKind == JsonValueKind.Number: options.PresencePenalty = value.GetSingle(); break;
                case "seed" when value.ValueKind == JsonValueKind.Number: options.Seed = value.GetInt64(); break;
                case "stop" when value.ValueKind == JsonValueKind.Array:
                    options.StopSequences = value.EnumerateArray().Select(v => v.ToString()).ToList(); break;
                default:
                    (options.AdditionalProperties ??= [])[name] = value; break;
            }
        }
        return options;
    }
}

/// <summary>One provider call and what it records, as a complete JSON answer or as server-sent events.</summary>
internal sealed record ProviderCall(
    IDocumentStore Store, IChatClient Client, List<ChatMessage> Messages, ChatOptions Options, Guid ConversationId, Guid MessageId,
    string UserId, string Provider, string Model, Guid? KeyId, ChatDefaults Defaults, TimeProvider Time)
{
    public async Task<IResult> CompleteAsync(CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(Defaults.TimeoutSeconds));
        ChatResponse response;
        try
        {
            response = await Client.GetResponseAsync(Messages, Options, timeout.Token);
        }
        catch (Exception e) when (ProviderFailure.From(e, Provider, timedOut: timeout.IsCancellationRequested && !ct.IsCancellationRequested) is { } failure)
        {
            return await Failed(failure);
        }
        var usage = await Received(response.Text, response.FinishReason?.Value, response.Usage, watch.ElapsedMilliseconds, interrupted: false);
        return Results.Json(new ChatReply(ConversationId, MessageId, response.Text, Model, response.FinishReason?.Value, usage));
    }

    public async Task<IResult> StreamAsync(HttpContext http)
    {
        var ct = http.RequestAborted;
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(Defaults.TimeoutSeconds));
        var text = new System.Text.StringBuilder();
        UsageDetails? usage = null;
        string? finish = null;
        var started = false;
        try
        {
            await foreach (var update in Client.GetStreamingResponseAsync(Messages, Options, timeout.Token))
            {
                if (!started)
                {
                    // Headers go out with the first token, so a provider that fails at once still gets a proper status.
                    timeout.CancelAfter(Timeout.InfiniteTimeSpan);
                    http.Response.ContentType = "text/event-stream";
                    http.Response.Headers.CacheControl = "no-cache";
                    started = true;
                }
                foreach (var content in update.Contents.OfType<UsageContent>()) usage = content.Details;
                finish = update.FinishReason?.Value ?? finish;
                if (update.Text is { Length: > 0 } delta)
                {
                    text.Append(delta);
                    await Write(http, "delta", new { text = delta }, ct);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client left: keep what arrived, marked interrupted.
            await Received(text.ToString(), finish, usage, watch.ElapsedMilliseconds, interrupted: true);
            return Results.Empty;
        }
        catch (Exception e) when (ProviderFailure.From(e, Provider, timedOut: timeout.IsCancellationRequested) is { } failure)
        {
            if (!started) return await Failed(failure);
            await RecordFailure(failure);
            await Write(http, "error", new { status = failure.Status, message = failure.Message }, CancellationToken.None);
            return Results.Empty;
        }

        var totals = await Received(text.ToString(), finish, usage, watch.ElapsedMilliseconds, interrupted: false);
        if (!started)
        {
            http.Response.ContentType = "text/event-stream";
            started = true;
        }
        await Write(http, "done", new { conversation_id = ConversationId, message_id = MessageId, model = Model, finish_reason = finish,
            usage = new { input_tokens = totals.InputTokens, output_tokens = totals.OutputTokens, total_tokens = totals.TotalTokens } }, ct);
        return Results.Empty;
    }

    private static async Task Write(HttpContext http, string name, object data, CancellationToken ct)
    {
        await http.Response.WriteAsync($"event: {name}\ndata: {JsonSerializer.Serialize(data)}\n\n", ct);
        await http.Response.Body.FlushAsync(ct);
    }

    private async Task<ChatUsage> Received(string text, string? finish, UsageDetails? usage, long latency, bool interrupted)
    {
        var (tokensIn, tokensOut) = (usage?.InputTokenCount ?? 0, usage?.OutputTokenCount ?? 0);
        var now = Time.GetUtcNow();
        await SendChatEndpoint.Record(Store, ConversationId, CancellationToken.None,
            new ReplyReceived(ConversationId, MessageId, text, Model, interrupted ? "interrupted" : finish, tokensIn, tokensOut, latency, interrupted, now),
            new UsageRecorded(UserId, Provider, Model, KeyId, tokensIn, tokensOut, now));
        return new ChatUsage(tokensIn, tokensOut, tokensIn + tokensOut);
    }

    private Task RecordFailure(ProviderFailure failure) =>
        SendChatEndpoint.Record(Store, ConversationId, CancellationToken.None,
            new ReplyFailed(ConversationId, MessageId, Model, failure.ProviderStatus, failure.Message, Time.GetUtcNow()));

    private async Task<IResult> Failed(ProviderFailure failure)
    {
        await RecordFailure(failure);
        var extensions = new Dictionary<string, object?> { ["provider"] = Provider, ["provider_status"] = failure.ProviderStatus };
        var problem = Results.Problem(statusCode: failure.Status, title: "The provider did not reply", detail: failure.Message, extensions: extensions);
        return failure.RetryAfter is { } after ? new WithRetryAfter(problem, after) : problem;
    }

    private sealed class WithRetryAfter(IResult inner, TimeSpan after) : IResult
    {
        public Task ExecuteAsync(HttpContext context)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(0, after.TotalSeconds))).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(context);
        }
    }
}
