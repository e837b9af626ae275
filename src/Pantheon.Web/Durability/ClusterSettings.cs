namespace Pantheon.Web.Durability;

/// <summary>
/// The <c>Durability</c> section: where this deployment's message storage lives and how fast its backend processes notice
/// each other's death. Wolverine's own defaults (a heartbeat every 10 s, a node stale after 60 s and two missed checks)
/// left a killed node's saga steps owned by the dead node for 71 to 83 s; these defaults hand them over within seconds.
/// </summary>
public sealed class ClusterSettings
{
    public const string Section = "Durability";

    /// <summary>
    /// The PostgreSQL schema of Wolverine's inbox, outbox, scheduled messages and node registry (default: <c>Marten:Schema</c>).
    /// Processes that share it share their messages: one deployment, one schema.
    /// </summary>
    public string? MessageSchema { get; set; }

    /// <summary>How often every process records its heartbeat and the leader looks for dead nodes.</summary>
    public int HeartbeatMilliseconds { get; set; } = 1000;

    /// <summary>A node whose last heartbeat is older than this is considered dead.</summary>
    public int StaleNodeMilliseconds { get; set; } = 4000;

    /// <summary>Consecutive heartbeats a node must be seen dead before its messages are released to the living.</summary>
    public int StaleNodeEjectionThreshold { get; set; } = 2;

    /// <summary>How often released (ownerless) messages are looked for and taken over.</summary>
    public int RecoveryPollingMilliseconds { get; set; } = 1000;

    /// <summary>How often a process without the async daemon's leadership tries to take it (Marten's default is 5000).</summary>
    public int DaemonLeadershipPollingMilliseconds { get; set; } = 1000;
}
