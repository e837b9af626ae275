using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Projects;
using Pantheon.Web.OpenApi;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Projects;

/// <summary>
/// <c>PUT /api/projects/{id}/settings</c>: <c>tool_approval</c> is <c>"never"</c> (the default), <c>"always"</c>, or a list of
/// the tools whose calls wait for the owner's approval (<c>["type_text", "write_file"]</c>).
/// </summary>
public sealed record SetProjectSettings(ToolApprovalSetting ToolApproval)
{
    public (ToolApproval? Approval, string? Error) Parse() => ToolApproval.Json switch
    {
        { ValueKind: JsonValueKind.String } word => Domain.Projects.ToolApproval.From(word.GetString(), null),
        { ValueKind: JsonValueKind.Array } list when list.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
            Domain.Projects.ToolApproval.From(null, [.. list.EnumerateArray().Select(t => t.GetString())]),
        _ => (null, Domain.Projects.ToolApproval.Expected + "."),
    };

    public sealed class Validator : AbstractValidator<SetProjectSettings>
    {
        public Validator()
        {
            RuleFor(x => x).Custom((command, context) =>
            {
                if (command.Parse().Error is { } error) context.AddFailure("tool_approval", error);
            });
        }
    }
}

/// <summary>A project's settings: <c>tool_approval</c> as it is set, <c>"never"</c>, <c>"always"</c> or a list of tool names.</summary>
public sealed record ProjectSettingsResponse(Guid ProjectId, ToolApprovalSetting ToolApproval)
{
    public static ProjectSettingsResponse Of(Guid projectId, ToolApproval approval) => new(projectId, new ToolApprovalSetting(
        approval.Mode == Domain.Projects.ToolApproval.Listed
            ? JsonSerializer.SerializeToElement(approval.Tools)
            : JsonSerializer.SerializeToElement(approval.Mode)));
}

/// <summary>
/// <c>tool_approval</c> as JSON: a mode or a list of tool names. A type of its own (not a bare <see cref="JsonElement"/>) so
/// that the OpenAPI document describes it as that (<see cref="OpenApi.ToolApprovalSchema"/>); absent, it is undefined JSON.
/// </summary>
[JsonConverter(typeof(Converter))]
public readonly record struct ToolApprovalSetting(JsonElement Json)
{
    public sealed class Converter : JsonConverter<ToolApprovalSetting>
    {
        public override ToolApprovalSetting Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            new(JsonElement.ParseValue(ref reader));

        public override void Write(Utf8JsonWriter writer, ToolApprovalSetting value, JsonSerializerOptions options) =>
            value.Json.WriteTo(writer);
    }
}

public static class GetProjectSettingsEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal) => ProjectLifecycleEndpoints.Owned(project, principal);

    [WolverineGet("/api/projects/{id}/settings", OperationId = "GetProjectSettings")]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static ProjectSettingsResponse Get([ReadAggregate(Required = false)] Project? project) =>
        ProjectSettingsResponse.Of(project!.Id, project.ToolApproval);
}

public static class SetProjectSettingsEndpoint
{
    public static ProblemDetails Validate(Project? project, ClaimsPrincipal principal) => ProjectLifecycleEndpoints.Owned(project, principal);

    /// <summary>Sets the project's settings; an unchanged setting records nothing.</summary>
    [WolverinePut("/api/projects/{id}/settings", OperationId = "SetProjectSettings")]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static (ProjectSettingsResponse, Events) Put(
        SetProjectSettings command, [WriteAggregate(Required = false)] Project? project, TimeProvider time)
    {
        var approval = command.Parse().Approval!;
        return (ProjectSettingsResponse.Of(project!.Id, approval), new Events(ProjectDecider.SetToolApproval(project, approval, time.GetUtcNow())));
    }
}
