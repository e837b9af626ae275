using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Tools;
using Pantheon.Web.Projects;

namespace Pantheon.Web.OpenApi;

/// <summary>
/// A project's <c>tool_approval</c> (<see cref="ToolApprovalSetting"/>, JSON in C#) is one of: a mode (<c>never</c> | <c>always</c>) or a list of the
/// tools API's tool names (<see cref="ToolNames.All"/>, the names the tools API registers).
/// </summary>
internal sealed class ToolApprovalSchema : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonTypeInfo.Type != typeof(ToolApprovalSetting)) return Task.CompletedTask;
        schema.Type = null;
        schema.Description = "A mode (`never`: no call waits, the default; `always`: every call waits) or a list of the tools whose "
            + "calls wait for the owner's approval.";
        schema.OneOf =
        [
            new OpenApiSchema
            {
                Type = JsonSchemaType.String,
                Enum = [JsonValue.Create(ToolApproval.Never), JsonValue.Create(ToolApproval.Always)],
            },
            new OpenApiSchema
            {
                Type = JsonSchemaType.Array,
                Items = new OpenApiSchema
                {
                    Type = JsonSchemaType.String, Enum = [.. ToolNames.All.Select(t => (JsonNode)JsonValue.Create(t))],
                },
            },
        ];
        return Task.CompletedTask;
    }
}
