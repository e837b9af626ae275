namespace Pantheon.Handlers.Viewer;

/// <summary>The <c>Viewer</c> section: tickets, sessions and the proxy to a VM's web viewer (<c>Vm:ViewerPort</c>).</summary>
public sealed class ViewerSettings
{
    public const string Section = "Viewer";

    /// <summary>How long a ticket may wait to be used (once).</summary>
    public int TicketSeconds { get; set; } = 60;

    /// <summary>How long the session cookie that a ticket opens lasts.</summary>
    public int SessionMinutes { get; set; } = 480;

    /// <summary>A proxied connection (the viewer's WebSocket included) that carries nothing this long is closed.</summary>
    public int IdleTimeoutSeconds { get; set; } = 900;

    /// <summary>
    /// The viewer page inside the VM and its query, relative to the viewer's root; <c>{path}</c> becomes the proxied root
    /// without its leading slash (noVNC opens its WebSocket at <c>/{path}</c>, so it must go through the proxy too).
    /// </summary>
    public string Entry { get; set; } = "vnc.html?autoconnect=true&reconnect=true&resize=off&path={path}websockify";
}
