using Pantheon.Domain.Projects;

namespace Pantheon.Domain.Viewer;

/// <summary>A viewer ticket as it was issued: single use, bound to one user and one project, valid until it expires.</summary>
public sealed record ViewerTicketGrant(string UserId, Guid ProjectId, DateTimeOffset ExpiresAt);

/// <summary>A viewer session, carried by a signed cookie scoped to the project's viewer path.</summary>
public sealed record ViewerSession(string UserId, Guid ProjectId, DateTimeOffset ExpiresAt);

/// <summary>Why a viewer request is refused (a 401), or <see cref="None"/>.</summary>
public enum ViewerRefusal
{
    None,
    /// <summary>No ticket and no session cookie.</summary>
    NoCredentials,
    /// <summary>Never issued, or already used: a ticket opens one session only.</summary>
    UnknownOrSpent,
    Expired,
    /// <summary>The ticket or session belongs to another project than the one in the path.</summary>
    OtherProject,
    /// <summary>The request also proves another user (a bearer token, a session of someone else).</summary>
    OtherUser,
}

/// <summary>
/// Who may open a project's viewer: the rules, apart from the ticket store and the cookie's signature. Pure: the
/// proxy and the ticket endpoint call these with what they read and the time.
/// </summary>
public static class ViewerAccess
{
    /// <summary>Only a running VM has a viewer: any other status is a conflict that names it.</summary>
    public static bool HasViewer(ProjectStatus status) => status == ProjectStatus.Ready;

    public static string NotRunning(ProjectStatus status) =>
        $"The project is {status.ToString().ToLowerInvariant()}: its VM's viewer opens only when the project is ready.";

    /// <summary>
    /// A ticket just taken out of the store (so nobody else can use it again) opens a session for its user on its project,
    /// unless it expired, names another project than the path, or the request proves another user.
    /// </summary>
    public static ViewerRefusal Redeem(ViewerTicketGrant? ticket, Guid pathProject, string? otherIdentity, DateTimeOffset now)
    {
        if (ticket is null) return ViewerRefusal.UnknownOrSpent;
        if (now >= ticket.ExpiresAt) return ViewerRefusal.Expired;
        if (ticket.ProjectId != pathProject) return ViewerRefusal.OtherProject;
        if (otherIdentity is not null && otherIdentity != ticket.UserId) return ViewerRefusal.OtherUser;
        return ViewerRefusal.None;
    }

    /// <summary>A later request of the session: its cookie must be valid, unexpired and for the project in the path.</summary>
    public static ViewerRefusal Continue(ViewerSession? session, Guid pathProject, string? otherIdentity, DateTimeOffset now)
    {
        if (session is null) return ViewerRefusal.NoCredentials;
        if (now >= session.ExpiresAt) return ViewerRefusal.Expired;
        if (session.ProjectId != pathProject) return ViewerRefusal.OtherProject;
        if (otherIdentity is not null && otherIdentity != session.UserId) return ViewerRefusal.OtherUser;
        return ViewerRefusal.None;
    }

    public static string Explain(ViewerRefusal refusal) => refusal switch
    {
        ViewerRefusal.NoCredentials => "Open the viewer with the URL that POST /api/projects/{id}/viewer-ticket returns.",
        ViewerRefusal.UnknownOrSpent => "The viewer ticket is unknown or was already used; ask for a new one.",
        ViewerRefusal.Expired => "The viewer ticket or session expired; ask for a new ticket.",
        ViewerRefusal.OtherProject => "The viewer ticket or session is for another project.",
        ViewerRefusal.OtherUser => "The viewer ticket or session belongs to another user.",
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, "Not a refusal."),
    };
}
