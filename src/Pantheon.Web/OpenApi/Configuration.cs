namespace Pantheon.Web.OpenApi;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>, from which the frontend builds its typed client. What every
/// operation shares (the bearer scheme, the problem answers, optional fields) is declared here by convention, so a
/// new route is described truthfully without a table per route; an endpoint adds only what is its own, with
/// <see cref="ProducesProblemsAttribute"/>, <see cref="ProducesEventStreamAttribute"/> and ASP.NET's
/// <c>[ProducesResponseType]</c> for a body that a returned <c>IResult</c> hides.
/// </summary>
public static class Configuration
{
    public const string DocumentRoute = "/openapi/{documentName}.json";

    public static IServiceCollection AddPantheonOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(options =>
        {
            options.AddSchemaTransformer<RequiredProperties>();
            options.AddSchemaTransformer<ToolApprovalSchema>();
            options.AddSchemaTransformer<InputModalitiesSchema>();
            options.AddOperationTransformer<OperationConventions>();
            options.AddDocumentTransformer<DocumentConventions>();
        });

    public static void MapPantheonOpenApi(this WebApplication app) => app.MapOpenApi(DocumentRoute).AllowAnonymous();
}
