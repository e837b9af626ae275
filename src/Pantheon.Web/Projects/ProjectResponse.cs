using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Pantheon.Domain.Projects;
using Pantheon.Projections.Projects;
using Wolverine.Http;

namespace Pantheon.Web.Projects;

/// <summary>A project as the API returns it.</summary>
public record ProjectResponse(
    Guid Id, string Name, string Os, ProjectStatus Status, string? Subnet, string? Network, string? VmAddress, string? VmContainer,
    string? SharedFolderPath, string? SharedFolderUrl, string? ToolsApiUrl, int? ViewerPort, string? FailedStep, string? FailureReason,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ReadyAt, string? StopReason)
{
    public static ProjectResponse From(ProjectView v) => new(v.Id, v.Name, v.Os, v.Status, v.Subnet, v.Network, v.VmAddress, v.VmContainer,
        v.SharedFolderPath, v.SharedFolderUrl, v.ToolsApiUrl, v.ViewerPort, v.FailedStep, v.FailureReason, v.CreatedAt, v.UpdatedAt,
            v.ReadyAt,
        v.StopReason);
}

/// <summary>202 with the project's <c>Location</c>: the work goes on in the background.</summary>
public sealed record ProjectAccepted(Guid Id, ProjectStatus Status) : IHttpAware
{
    public void Apply(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.Location = $"/api/projects/{Id}";
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status202Accepted, typeof(ProjectAccepted), ["application/json"]));
}
