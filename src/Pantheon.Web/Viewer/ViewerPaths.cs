namespace Pantheon.Web.Viewer;

/// <summary>Where a project's viewer lives: <c>/api/projects/{id}/viewer/</c>, everything below it the VM's.</summary>
public static class ViewerPaths
{
    public const string TicketParameter = "ticket";

    public static string Root(Guid projectId) => $"/api/projects/{projectId}/viewer/";

    /// <summary>The viewer's entry page with the ticket (see <see cref="Handlers.Viewer.ViewerSettings.Entry"/>).</summary>
    public static string EntryUrl(Guid projectId, string entry, string ticket)
    {
        var page = Root(projectId) + entry.Replace("{path}", Root(projectId).TrimStart('/'), StringComparison.Ordinal);
        return $"{page}{(page.Contains('?') ? '&' : '?')}{TicketParameter}={Uri.EscapeDataString(ticket)}";
    }

    /// <summary>The project and the VM-side path of a request under a viewer root; false for every other path.</summary>
    public static bool TryParse(PathString path, out Guid projectId, out string rest)
    {
        projectId = default;
        rest = "";
        var value = path.Value;
        const string prefix = "/api/projects/";
        if (value is null || !value.StartsWith(prefix, StringComparison.Ordinal)) return false;
        var tail = value.AsSpan(prefix.Length);
        var slash = tail.IndexOf('/');
        if (slash < 0 || !Guid.TryParse(tail[..slash], out projectId)) return false;
        tail = tail[(slash + 1)..];
        const string viewer = "viewer";
        if (!tail.StartsWith(viewer, StringComparison.Ordinal) || tail.Length > viewer.Length && tail[viewer.Length] != '/') return false;
        rest = tail.Length > viewer.Length ? tail[viewer.Length..].ToString() : "";
        return true;
    }
}
