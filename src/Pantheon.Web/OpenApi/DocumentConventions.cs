using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Pantheon.Web.OpenApi;

/// <summary>What the document as a whole declares: its title, the bearer scheme, server URLs without a trailing slash.</summary>
internal sealed class DocumentConventions : IOpenApiDocumentTransformer
{
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "Pantheon API";
        document.Info.Description = "AI agents in per-project sandbox machines. Every /api operation takes `Authorization: Bearer <jwt>`; "
            + "errors are RFC 7807 problem details.";
        foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
        OperationConventions.EnsureBearerScheme(document);
        RemoveUnreferencedSchemas(document);
        // The generator's tags are the endpoint classes; operations are tagged by feature instead (OperationConventions).
        var used = document.Paths.Values
            .SelectMany(p => p.Operations?.Values.AsEnumerable() ?? [])
            .SelectMany(o => o.Tags?.AsEnumerable() ?? [])
            .Select(t => t.Name)
            .ToHashSet();
        foreach (var tag in document.Tags?.Where(t => !used.Contains(t.Name)).ToList() ?? []) document.Tags!.Remove(tag);
        return Task.CompletedTask;
    }

    /// <summary>
    /// The placeholder schema of an <c>IResult</c> return: <see cref="OperationConventions"/> drops the responses that
    /// named it, so nothing refers to it any more.
    /// </summary>
    private static void RemoveUnreferencedSchemas(OpenApiDocument document) => document.Components?.Schemas?.Remove(nameof(IResult));
}
