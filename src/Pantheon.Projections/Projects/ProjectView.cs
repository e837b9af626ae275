using JasperFx.Events;
using Marten.Events.Aggregation;
using Pantheon.Domain.Projects;

namespace Pantheon.Projections.Projects;

/// <summary>A project as its owner sees it; gone once the project is deleted.</summary>
public sealed class ProjectView
{
    public Guid Id { get; set; }
    public string OwnerId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Os { get; set; } = ProjectOs.Windows11;
    public ProjectStatus Status { get; set; }
    public string? Subnet { get; set; }
    public string? Network { get; set; }
    public string? NetworkId { get; set; }
    public string? VmAddress { get; set; }
    public string? VmContainer { get; set; }
    public string? SharedFolderPath { get; set; }
    public string? SharedFolderUrl { get; set; }
    public string? ToolsApiUrl { get; set; }
    public int? ViewerPort { get; set; }
    public string? FailedStep { get; set; }
    public string? FailureReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ReadyAt { get; set; }
}

/// <summary>Inline: a created project is readable by the very next request.</summary>
public sealed partial class ProjectViewProjection : SingleStreamProjection<ProjectView, Guid>
{
    public ProjectView Create(ProjectRequested e) => new()
    {
        Id = e.ProjectId, OwnerId = e.OwnerId, Name = e.Name, Os = e.Os, Status = ProjectStatus.Requested, CreatedAt = e.At, UpdatedAt = e.At,
    };

    public void Apply(NetworkAllocated e, ProjectView view)
    {
        var subnet = Domain.Projects.Subnet.Parse(e.Subnet);
        view.Status = ProjectStatus.Provisioning;
        view.Subnet = e.Subnet;
        view.Network = e.NetworkName;
        view.NetworkId = e.NetworkId;
        view.ToolsApiUrl = subnet.ToolsApiUrl;
        view.UpdatedAt = e.At;
    }

    public void Apply(SharedFolderPrepared e, ProjectView view)
    {
        view.SharedFolderPath = e.HostPath;
        view.SharedFolderUrl = $"http://{e.ServerAddress}:8888/";
        view.UpdatedAt = e.At;
    }

    public void Apply(VmBooted e, ProjectView view)
    {
        view.Status = ProjectStatus.Ready;
        view.VmAddress = e.VmAddress;
        view.VmContainer = e.VmContainerId;
        view.ViewerPort = e.ViewerPort;
        view.ReadyAt = e.At;
        view.UpdatedAt = e.At;
    }

    public void Apply(ProjectProvisioningFailed e, ProjectView view)
    {
        // Provisioning removed whatever it had made, so none of it is the project's any more.
        view.Status = ProjectStatus.Failed;
        view.Subnet = view.Network = view.NetworkId = view.ToolsApiUrl = null;
        view.SharedFolderPath = view.SharedFolderUrl = view.VmAddress = view.VmContainer = null;
        view.ViewerPort = null;
        view.FailedStep = e.Step;
        view.FailureReason = e.Reason;
        view.UpdatedAt = e.At;
    }

    public void Apply(ProjectDeletionRequested e, ProjectView view)
    {
        view.Status = ProjectStatus.Deleting;
        view.UpdatedAt = e.At;
    }

    public bool ShouldDelete(ProjectDeleted e) => true;
}
