using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Pantheon.Domain.Chat;
using Pantheon.Web.Chat;

namespace Pantheon.Web.OpenApi;

/// <summary>
/// A custom model's <c>input_modalities</c> (<see cref="AddCustomModel"/>) may name only <see cref="ModelInputs.Declarable"/>;
/// what a response shows may be more (OpenRouter's catalogue also says <c>file</c>, <c>audio</c>), so only the request says so.
/// </summary>
internal sealed class InputModalitiesSchema : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonTypeInfo.Type != typeof(AddCustomModel)
            || schema.Properties?.TryGetValue("input_modalities", out var property) != true || property is not OpenApiSchema list)
            return Task.CompletedTask;
        list.Description = "What the model takes, in OpenRouter's words (`text` among them); absent: not declared, and "
            + "`Chat:TextOnlyModels` decides whether an agent's screenshots reach it as images.";
        list.Items = new OpenApiSchema
        {
            Type = JsonSchemaType.String, Enum = [.. ModelInputs.Declarable.Select(m => (JsonNode)JsonValue.Create(m))],
        };
        return Task.CompletedTask;
    }
}
