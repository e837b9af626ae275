namespace Pantheon.Domain.Projects;

public enum ProjectStatus
{
    Requested,
    Provisioning,
    Ready,
    Failed,
    Deleting,
    Stopping,
    Stopped,
    Starting,
    /// <summary>Only in live updates: a deleted project is not found.</summary>
    Deleted,
}

/// <summary>The operating systems a project's VM can run.</summary>
public static class ProjectOs
{
    public const string Windows11 = "windows-11";
    public static readonly IReadOnlyList<string> All = [Windows11];
}
