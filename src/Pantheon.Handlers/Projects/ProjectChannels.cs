namespace Pantheon.Handlers.Projects;

/// <summary>PostgreSQL notification channels about projects.</summary>
public static class ProjectChannels
{
    /// <summary>A project's status changed (sent by the transaction that commits the change): a hint to look, never the news itself.</summary>
    public const string Updates = "pantheon_project_updates";
}
