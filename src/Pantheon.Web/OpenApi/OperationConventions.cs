using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.ApiExplorer;
using Microsoft.AspNetCore.Mvc.Controllers;
using Microsoft.AspNetCore.Mvc.ModelBinding;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.OpenApi;

namespace Pantheon.Web.OpenApi;

/// <summary>
/// Declares on every operation what its endpoint's shape implies, so that a new route is described without a table:
/// <list type="bullet">
/// <item>an operation that requires a token: the bearer scheme, 401, 429 (per-user rate limits), and 403 when it
/// needs a role;</item>
/// <item>a request body: 400 (a field-level <c>errors</c> map), 413 and 415; query parameters: 400; an id in the
/// path: 404;</item>
/// <item>the endpoint's own <see cref="ProducesProblemsAttribute"/> statuses and its ProblemDetails metadata.</item>
/// </list>
/// Every one of them is <c>application/problem+json</c>. Error statuses that none of these explain are defaults a
/// framework guessed (Wolverine's bodiless 404 on every JSON endpoint) and are dropped, and so is the placeholder
/// <c>object</c> of an endpoint that returns <c>IResult</c>: such an endpoint names its bodies with
/// <c>[ProducesResponseType]</c>.
/// </summary>
internal sealed class OperationConventions : IOpenApiOperationTransformer
{
    public const string BearerScheme = "Bearer";
    public const string ProblemJson = "application/problem+json";
    public const string EventStream = "text/event-stream";

    public async Task TransformAsync(
        OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var description = context.Description;
        var metadata = description.ActionDescriptor.EndpointMetadata;
        var document = context.Document ?? throw new InvalidOperationException("The operation transformer runs without its document.");
        operation.Responses ??= new OpenApiResponses();

        foreach (var placeholder in description.SupportedResponseTypes.Where(r => r.Type is { } t && typeof(IResult).IsAssignableFrom(t)))
            operation.Responses.Remove(Key(placeholder.StatusCode));

        var problems = ProblemsOf(operation, description, metadata);
        var guessed = operation.Responses.Keys
            .Where(k => int.TryParse(k, out var status) && status >= 400 && !problems.Contains(status)).ToList();
        foreach (var key in guessed) operation.Responses.Remove(key);
        foreach (var status in problems) operation.Responses[Key(status)] = await ProblemResponse(status, context, cancellationToken);

        if (Feature(description) is { } feature)
        {
            document.Tags ??= new HashSet<OpenApiTag>();
            if (document.Tags.All(t => t.Name != feature))
                document.Tags.Add(new OpenApiTag { Name = feature, Description = Describe(feature) });
            operation.Tags = new HashSet<OpenApiTagReference> { new(feature, document) };
        }

        if (RequiresToken(metadata))
        {
            EnsureBearerScheme(document);
            operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] }];
        }

        if (metadata.OfType<ProducesEventStreamAttribute>().FirstOrDefault() is { } stream
            && operation.Responses.TryGetValue(Key(StatusCodes.Status200OK), out var ok) && ok is OpenApiResponse response)
        {
            response.Content ??= new Dictionary<string, OpenApiMediaType>();
            response.Content[EventStream] = new OpenApiMediaType
            {
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = stream.Description },
            };
        }
    }

    /// <summary>The problem statuses this operation can answer.</summary>
    internal static SortedSet<int> ProblemsOf(OpenApiOperation operation, ApiDescription description, IList<object> metadata)
    {
        var statuses = new SortedSet<int>();
        if (RequiresToken(metadata))
        {
            statuses.UnionWith([StatusCodes.Status401Unauthorized, StatusCodes.Status429TooManyRequests]);
            if (metadata.OfType<IAuthorizeData>().Any(a => !string.IsNullOrEmpty(a.Roles) || !string.IsNullOrEmpty(a.Policy)))
                statuses.Add(StatusCodes.Status403Forbidden);
        }
        if (operation.RequestBody is not null)
        {
            statuses.UnionWith(
                [StatusCodes.Status400BadRequest, StatusCodes.Status413PayloadTooLarge, StatusCodes.Status415UnsupportedMediaType]);
        }
        if (description.ParameterDescriptions.Any(p => p.Source == BindingSource.Query)) statuses.Add(StatusCodes.Status400BadRequest);
        if (description.ParameterDescriptions.Any(p => p.Source == BindingSource.Path)) statuses.Add(StatusCodes.Status404NotFound);
        foreach (var declared in metadata.OfType<ProducesProblemsAttribute>()) statuses.UnionWith(declared.Statuses);
        statuses.UnionWith(description.SupportedResponseTypes
            .Where(r => r.StatusCode >= 400 && r.Type is { } t && typeof(ProblemDetails).IsAssignableFrom(t)).Select(r => r.StatusCode));
        return statuses;
    }

    /// <summary>The feature folder of the endpoint (<c>Pantheon.Web.Chat</c> is <c>Chat</c>): the tag a client groups by.</summary>
    private static string? Feature(ApiDescription description) =>
        description.ActionDescriptor is ControllerActionDescriptor action ? action.ControllerTypeInfo.Namespace?.Split('.')[^1] : null;

    private static string Describe(string feature) => feature switch
    {
        "Admin" => "Operator views; `pantheon-admin` only.",
        "Audit" => "Who did what: audit entries and a project's own events.",
        "Chat" => "Chat with models, its history, custom models and usage.",
        "Keys" => "The caller's provider API keys, stored encrypted and never returned.",
        "Projects" => "Projects and their sandbox machines.",
        "Settings" => "The caller's chat settings.",
        "Users" => "The caller's profile.",
        _ => $"{feature} operations.",
    };

    private static bool RequiresToken(IList<object> metadata) =>
        metadata.OfType<IAuthorizeData>().Any() && !metadata.OfType<IAllowAnonymous>().Any();

    private static async Task<IOpenApiResponse> ProblemResponse(
        int status, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        // A 400 carries the field-level errors map; every other problem is a plain ProblemDetails (with extensions).
        var type = status == StatusCodes.Status400BadRequest ? typeof(HttpValidationProblemDetails) : typeof(ProblemDetails);
        var response = new OpenApiResponse
        {
            Description = Meaning(status),
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [ProblemJson] = new() { Schema = await SchemaReference(type, context, ct) },
            },
        };
        if (status == StatusCodes.Status429TooManyRequests)
        {
            response.Headers = new Dictionary<string, IOpenApiHeader>
            {
                ["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds to wait before trying again.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer },
                },
            };
        }
        return response;
    }

    private static string Meaning(int status) => status switch
    {
        400 => "The request is not valid: `errors` names each field (snake_case) with its messages.",
        401 => "No valid bearer token: missing, expired, badly signed, or without `sub`.",
        402 => "The monthly token budget is spent: the problem gives the budget, the amount spent and when it resets.",
        403 => "The token lacks the role this operation needs.",
        404 => "There is no such resource, or it is not the caller's: both answer alike.",
        409 => "The resource's current state does not allow this.",
        413 => "The request body is over the size limit that the problem names.",
        415 => "The request body is not `application/json`.",
        422 => "The request is well formed but cannot be carried out (for example, no usable API key).",
        429 => "A limit on request rate or concurrency was reached: the problem names it; wait `Retry-After` seconds.",
        502 => "The AI provider failed or refused; the problem names the provider.",
        504 => "The AI provider did not answer in time.",
        _ => ReasonPhrases.GetReasonPhrase(status),
    };

    private static async Task<IOpenApiSchema> SchemaReference(Type type, OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var document = context.Document!;
        if (document.Components?.Schemas?.ContainsKey(type.Name) != true)
            document.AddComponent(type.Name, await context.GetOrCreateSchemaAsync(type, null, ct));
        return new OpenApiSchemaReference(type.Name, document);
    }

    internal static void EnsureBearerScheme(OpenApiDocument document)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes.TryAdd(BearerScheme, new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "JWT",
            Description = "A JWT of the configured issuer (Keycloak in production); the user is its `sub`.",
        });
    }

    private static string Key(int status) => status.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
