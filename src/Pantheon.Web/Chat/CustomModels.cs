using System.Security.Claims;
using System.Text.Json;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Settings;
using Pantheon.Handlers.Chat;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Keys;
using Pantheon.Web.Auth;
using Pantheon.Web.OpenApi;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.Limits;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Chat;

/// <summary>A custom model; <see cref="InputModalities"/> what its user declared it takes (null: not declared).</summary>
public record CustomModelResponse(
    Guid Id, string ModelId, string Provider, string Endpoint, Guid? KeyId, Dictionary<string, JsonElement>? Parameters,
    DateTimeOffset CreatedAt, string[]? InputModalities)
{
    public static CustomModelResponse From(CustomModelView v) =>
        new(v.Id, v.ModelId, v.Provider, v.Endpoint, v.KeyId, v.Parameters, v.CreatedAt, v.InputModalities);
}

/// <summary>
/// <c>POST /api/user/models</c>; <see cref="InputModalities"/> (optional, OpenRouter's words <c>text</c> and <c>image</c>) says
/// whether an agent's screenshots reach the model as images.
/// </summary>
public sealed record AddCustomModel(
    string? ModelId, string? Provider, string? Endpoint, Guid? KeyId, Dictionary<string, JsonElement>? Parameters,
    List<string?>? InputModalities = null)
{
    public const string OpenAiCompatible = "openai-compatible";

    public sealed class Validator : AbstractValidator<AddCustomModel>
    {
        public Validator()
        {
            RuleFor(x => x.ModelId).Cascade(CascadeMode.Stop).NotEmpty().MaximumLength(200).Matches(@"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$")
                .Must(id => !Providers.IsKnown(id!.Split('/')[0])).WithMessage("model_id must not start with a built-in provider's name.");
            RuleFor(x => x.Provider).Equal(OpenAiCompatible).WithMessage($"provider must be '{OpenAiCompatible}'.");
            RuleFor(x => x.Endpoint).NotEmpty().MaximumLength(2000);
            RuleFor(x => x.Parameters).Custom((values, context) =>
            {
                var (parameters, error) = ModelParameters.FromJson(values);
                if (error is not null) context.AddFailure("parameters", error);
                foreach (var (field, message) in parameters?.Errors("parameters") ?? []) context.AddFailure(field, message);
            });
            RuleFor(x => x.InputModalities).Custom((modalities, context) =>
            {
                if (ModelInputs.Invalid(modalities) is { } error) context.AddFailure("input_modalities", error);
            });
        }
    }
}

public static class ListCustomModelsEndpoint
{
    public static ProblemDetails Validate(int? limit) => Paging.Validate(limit);

    /// <summary>The caller's custom models, oldest first, a page at a time (<c>limit</c>, <c>after</c>).</summary>
    [WolverineGet("/api/user/models", OperationId = "ListCustomModels")]
    public static Task<Page<CustomModelResponse>> Get(Guid? after, int? limit, ClaimsPrincipal principal, IQuerySession session,
        CancellationToken ct)
    {
        var userId = principal.UserId();
        return Paging.ByIdAsync(session.Query<CustomModelView>().Where(m => m.UserId == userId), m => m.Id, after, limit,
            CustomModelResponse.From, ct);
    }
}

public static class AddCustomModelEndpoint
{
    /// <summary>
    /// The endpoint must be an absolute https URL that does not name an address inside the network
    /// (<see cref="DestinationPolicy.CheckEndpoint"/>); names are checked again at connect time. A key reference must be
    /// one of the caller's active keys. At most <see cref="UserLimits.CustomModelsPerUser"/> models; the count and the
    /// duplicate check run under the user's lock.
    /// </summary>
    public static async Task<ProblemDetails> ValidateAsync(AddCustomModel command, ClaimsPrincipal principal, IDocumentSession session,
        DestinationPolicy destinations, UserLimits limits, CancellationToken ct)
    {
        var owner = principal.UserId();
        var cap = await Caps.CheckAsync<CustomModelView>(session, owner, m => m.UserId == owner,
            limits.CustomModelsPerUser, "Limits:CustomModelsPerUser", "Custom models per user", ct);
        if (!ReferenceEquals(cap, WolverineContinue.NoProblems)) return cap;
        var errors = new Dictionary<string, string[]>();
        if (destinations.CheckEndpoint(command.Endpoint) is { } refusal)
            errors["endpoint"] = [refusal];
        if (command.KeyId is { } keyId && (await session.LoadAsync<ProviderKeyView>(keyId, ct))?.UserId != principal.UserId())
            errors["key_id"] = ["key_id is not one of your API keys."];
        var userId = principal.UserId();
        if (await session.Query<CustomModelView>().AnyAsync(m => m.UserId == userId && m.ModelId == command.ModelId, ct))
            errors["model_id"] = ["You already have a model with this model_id."];
        return errors.Count == 0 ? WolverineContinue.NoProblems : new ValidationProblemDetails(errors) { Status = 400, Title = "The request is not valid." };
    }

    [WolverinePost("/api/user/models", OperationId = "AddCustomModel")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (CustomModelCreated, IStartStream) Post(AddCustomModel command, ClaimsPrincipal principal, TimeProvider time)
    {
        var id = Guid.CreateVersion7();
        var added = new CustomModelAdded(id, principal.UserId(), command.ModelId!, command.Provider!, command.Endpoint!, command.KeyId,
            command.Parameters, time.GetUtcNow(), ModelInputs.Normalized(command.InputModalities));
        return (new CustomModelCreated(id, added.ModelId, added.Provider, added.Endpoint, added.KeyId, added.Parameters, added.At,
                added.InputModalities),
            MartenOps.StartStream<CustomModelView>(id, added));
    }
}

/// <summary>201 with the new model's <c>Location</c>.</summary>
public sealed record CustomModelCreated(
    Guid Id, string ModelId, string Provider, string Endpoint, Guid? KeyId, Dictionary<string, JsonElement>? Parameters,
    DateTimeOffset CreatedAt, string[]? InputModalities)
    : CustomModelResponse(Id, ModelId, Provider, Endpoint, KeyId, Parameters, CreatedAt, InputModalities), IHttpAware
{
    public void Apply(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = $"/api/user/models/{Id}";
    }

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(201, typeof(CustomModelCreated), ["application/json"]));
}

public static class RemoveCustomModelEndpoint
{
    [WolverineDelete("/api/user/models/{id}", OperationId = "RemoveCustomModel")]
    [ProducesResponseType(StatusCodes.Status204NoContent)]
    public static async Task<IResult> Delete(Guid id, ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var model = await session.LoadAsync<CustomModelView>(id, ct);
        if (model is null || model.UserId != principal.UserId()) return Results.Problem(Problems.NotFound("The model"));
        session.Events.Append(id, new CustomModelRemoved(id, model.UserId, time.GetUtcNow()));
        return Results.NoContent();
    }
}

/// <summary>
/// A model <c>GET /api/models</c> offers; <see cref="InputModalities"/> what it takes as far as its metadata says (a custom
/// model's declaration, OpenRouter's catalogue for its models), null when nothing says.
/// </summary>
public sealed record ModelResponse(string Id, string Provider, bool HasKey, bool Custom, IReadOnlyList<string>? InputModalities);

public static class ListModelsEndpoint
{
    /// <summary>
    /// The configured models and the caller's own, each with whether a call would find a key and what it takes. OpenRouter's
    /// catalogue as it is in hand: this never waits for it (a first read starts, and a later list shows it).
    /// </summary>
    [WolverineGet("/api/models", OperationId = "ListModels")]
    public static async Task<IReadOnlyList<ModelResponse>> Get(ClaimsPrincipal principal, IQuerySession session, ChatDefaults defaults,
        ProviderKeys keys, OpenRouterCatalogue catalogue, CancellationToken ct)
    {
        var userId = principal.UserId();
        var own = await session.Query<ProviderKeyView>().Where(k => k.UserId == userId).ToListAsync(ct);
        var providersWithKey = own.Select(k => k.Provider).ToHashSet();
        var known = defaults.Models.Any(id => ModelRoute.For(id).Provider == Providers.OpenRouter) ? catalogue.Peek() : null;
        var configured = defaults.Models.Select(id => ModelRoute.For(id))
            .Zip(defaults.Models, (route, id) => new ModelResponse(id, route.Provider,
                providersWithKey.Contains(route.Provider) || keys.HasSystemKey(route.Provider), false, ModelInputs.Declared(id, known)));
        var custom = (await session.Query<CustomModelView>().Where(m => m.UserId == userId).ToListAsync(ct))
            .Select(m => new ModelResponse(
                m.ModelId, m.Provider, m.KeyId is null || own.Any(k => k.Id == m.KeyId), true, m.InputModalities));
        return configured.Concat(custom).ToList();
    }
}
