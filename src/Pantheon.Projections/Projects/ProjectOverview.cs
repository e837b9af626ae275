using Marten.Events.Aggregation;
using Pantheon.Domain.Projects;

namespace Pantheon.Projections.Projects;

/// <summary>
/// A project as operators list it: kept after the project is deleted (its name with it), and ordered for the operations
/// page by <see cref="SortKey"/>: work in flight first, then failures, then the rest, then deleted projects, each newest
/// first. Status, owner and sort key are columns of their own, so a page, a filter and the counts read an index.
/// </summary>
public sealed class ProjectOverview
{
    public const string Deleted = "deleted";

    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string OwnerId { get; set; } = "";
    public string Status { get; set; } = "";
    public string? FailedStep { get; set; }
    public string? FailureReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? DeletedAt { get; set; }
    public string SortKey { get; set; } = "";

    /// <summary>0 in flight, 1 failed, 2 settled (ready, and whatever else is at rest), 3 deleted.</summary>
    public static int Rank(string status) => status switch
    {
        "requested" or "provisioning" or "deleting" or "stopping" or "starting" => 0,
        "failed" => 1,
        Deleted => 3,
        _ => 2,
    };

    internal void Set(string status, DateTimeOffset at)
    {
        Status = status;
        UpdatedAt = at;
        // Ascending order of this text is rank, then newest first, then id: a stable cursor for paging.
        SortKey = $"{Rank(status)}{DateTimeOffset.MaxValue.UtcTicks - at.UtcTicks:D19}{Id:N}";
    }

    public static string Of(ProjectStatus status) => status.ToString().ToLowerInvariant();
}

/// <summary>Inline, never deleting: the operations page shows a project's name however long ago it went.</summary>
public sealed partial class ProjectOverviewProjection : SingleStreamProjection<ProjectOverview, Guid>
{
    public ProjectOverview Create(ProjectRequested e)
    {
        var overview = new ProjectOverview { Id = e.ProjectId, Name = e.Name, OwnerId = e.OwnerId, CreatedAt = e.At };
        overview.Set(ProjectOverview.Of(ProjectStatus.Requested), e.At);
        return overview;
    }

    public void Apply(NetworkAllocated e, ProjectOverview view) => Moved(view, e);
    public void Apply(SharedFolderPrepared e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmBooted e, ProjectOverview view) => Moved(view, e);
    public void Apply(ProvisioningRetried e, ProjectOverview view) => Moved(view, e);
    public void Apply(ProjectDeletionRequested e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStopRequested e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmRestartRequested e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStopped e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStopFailed e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStartRequested e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStarted e, ProjectOverview view) => Moved(view, e);
    public void Apply(VmStartFailed e, ProjectOverview view) => Moved(view, e);

    public void Apply(ProjectProvisioningFailed e, ProjectOverview view)
    {
        view.FailedStep = e.Step;
        view.FailureReason = e.Reason;
        Moved(view, e);
    }

    public void Apply(ProjectDeleted e, ProjectOverview view)
    {
        view.DeletedAt = e.At;
        view.Set(ProjectOverview.Deleted, e.At);
    }

    // The one event-to-status mapping (ProjectStatuses), as the read model and the live notifier use it.
    private static void Moved(ProjectOverview view, object e)
    {
        var current = Enum.TryParse<ProjectStatus>(view.Status, ignoreCase: true, out var s) ? s : ProjectStatus.Requested;
        view.Set(ProjectOverview.Of(ProjectStatuses.After(e, current)), ProjectStatuses.TimeOf(e) ?? view.UpdatedAt);
    }
}
