namespace Pantheon.Tools;

/// <summary>The <c>Tools</c> section: where the tools API listens and what bounds its tools.</summary>
public sealed class ToolsSettings
{
    public const string Section = "Tools";

    /// <summary>Kestrel's listening URLs; the default listens on every address, so each project bridge's <c>.1</c> too.</summary>
    public string Urls { get; set; } = "http://0.0.0.0:8090";

    /// <summary>The port of <c>MCP_TOOLS_API_URL</c> that a request on a project's <c>.1</c> must have come in on.</summary>
    public int Port { get; set; } = 8090;

    /// <summary>
    /// Local networks of the backend's side (CIDRs): a request that arrives on one of these addresses may use any project's
    /// secret (the backend calls the tools of every project). Any other local address must be a project's <c>.1</c>.
    /// </summary>
    public List<string> MainNetworks { get; set; } = ["127.0.0.0/8", "::1/128"];

    public long MaxReadBytes { get; set; } = 1024 * 1024;
    public long MaxWriteBytes { get; set; } = 1024 * 1024;
    public int MaxListEntries { get; set; } = 1000;
    public int MaxTypeTextCharacters { get; set; } = 10_000;

    /// <summary>The VM's VNC server (QEMU's in <c>dockurr/windows</c>, x11vnc in the desktop test VM).</summary>
    public int VncPort { get; set; } = 5900;

    /// <summary>A VNC password, when the VM's server asks for one (VNC authentication); none by default.</summary>
    public string? VncPassword { get; set; }

    public int ScreenTimeoutSeconds { get; set; } = 30;

    /// <summary>
    /// Development and tests, where the tools API runs on the Docker host: give each project bridge the <c>.1</c> address
    /// and the firewall rules that keep its VM to its own tools API (see the README). Needs root (CAP_NET_ADMIN).
    /// </summary>
    public bool ManageHostNetwork { get; set; }

    /// <summary>How often project networks are set up for the tools API (host mode) or joined (container mode).</summary>
    public int HostNetworkIntervalSeconds { get; set; } = 2;

    /// <summary>
    /// Production, where the tools API runs in a container: its own container's name (or id), which joins each live project's
    /// network at <c>.1</c> (Docker network connect with a fixed address). Empty on the host.
    /// </summary>
    public string? Container { get; set; }

    /// <summary>How long the list of live projects is reused before it is read again (a miss reads it at once).</summary>
    public int ProjectCacheMilliseconds { get; set; } = 2000;
}
