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
    /// <summary>Why the VM stopped, while it is stopped (<c>owner</c>, <c>operator</c>, <c>idle</c>).</summary>
    public string? StopReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? ReadyAt { get; set; }
}

/// <summary>
/// Inline: a created project is readable by the very next request. A read model only: decisions are made on
/// <see cref="Project"/>; the status comes from the one mapping, <see cref="ProjectStatuses"/>.
/// </summary>
public sealed partial class ProjectViewProjection : SingleStreamProjection<ProjectView, Guid>
{
    public ProjectView Create(ProjectRequested e) => new()
    {
        Id = e.ProjectId, OwnerId = e.OwnerId, Name = e.Name, Os = e.Os, Status = ProjectStatus.Requested, CreatedAt = e.At, UpdatedAt = e.At,
    };

    public void Apply(NetworkAllocated e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.Subnet = e.Subnet.Cidr;
        view.Network = e.NetworkName;
        view.NetworkId = e.NetworkId;
        view.ToolsApiUrl = e.Subnet.ToolsApiUrl;
    }

    public void Apply(SharedFolderPrepared e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.SharedFolderPath = e.HostPath;
        view.SharedFolderUrl = view.Subnet is { } cidr ? Domain.Projects.Subnet.Parse(cidr).SharedFolderUrl : null;
    }

    public void Apply(VmBooted e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.VmAddress = e.VmAddress;
        view.VmContainer = e.VmContainerId;
        view.ViewerPort = e.ViewerPort;
        view.ReadyAt = e.At;
    }

    public void Apply(ProjectProvisioningFailed e, ProjectView view)
    {
        // Provisioning removed whatever it had made, so none of it is the project's any more.
        Moved(view, e, e.At);
        view.Subnet = view.Network = view.NetworkId = view.ToolsApiUrl = null;
        view.SharedFolderPath = view.SharedFolderUrl = view.VmAddress = view.VmContainer = null;
        view.ViewerPort = null;
        view.FailedStep = e.Step;
        view.FailureReason = e.Reason;
    }

    public void Apply(ProvisioningRetried e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.FailedStep = view.FailureReason = null;
        view.ReadyAt = null;
    }

    public void Apply(ProjectDeletionRequested e, ProjectView view) => Moved(view, e, e.At);
    public void Apply(VmStopRequested e, ProjectView view) => Moved(view, e, e.At);
    public void Apply(VmRestartRequested e, ProjectView view) => Moved(view, e, e.At);

    public void Apply(VmStopped e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.StopReason = e.Reason;
    }

    public void Apply(VmStopFailed e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.FailureReason = e.Reason;
    }

    public void Apply(VmStartRequested e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.FailureReason = null;
    }

    public void Apply(VmStarted e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.VmContainer = e.VmContainerId;
        view.StopReason = view.FailureReason = null;
        view.ReadyAt = e.At;
    }

    public void Apply(VmStartFailed e, ProjectView view)
    {
        Moved(view, e, e.At);
        view.FailureReason = e.Reason;
    }

    public bool ShouldDelete(ProjectDeleted e) => true;

    private static void Moved(ProjectView view, object e, DateTimeOffset at)
    {
        view.Status = ProjectStatuses.After(e, view.Status);
        view.UpdatedAt = at;
    }
}
