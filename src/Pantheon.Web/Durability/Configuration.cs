using Marten;
using Wolverine;

namespace Pantheon.Web.Durability;

/// <summary>How the backend processes of one deployment share durable messages and hand a dead node's work over.</summary>
public static class DurabilityConfiguration
{
    public static ClusterSettings ClusterSettings(this IConfiguration configuration) =>
        configuration.GetSection(Durability.ClusterSettings.Section).Get<ClusterSettings>() ?? new ClusterSettings();

    /// <summary>The async daemon's leadership (Marten's HotCold): a survivor takes it over this soon after the leader dies.</summary>
    public static StoreOptions UseClusterTimings(this StoreOptions opts, ClusterSettings cluster)
    {
        opts.Projections.LeadershipPollingTime = cluster.DaemonLeadershipPollingMilliseconds;
        return opts;
    }

    /// <summary>
    /// Wolverine's node agents (Balanced mode): heartbeats, the detection of dead nodes, and the release and recovery of
    /// the messages a dead node owned (its saga steps, its scheduled health polls).
    /// </summary>
    public static WolverineOptions UseClusterTimings(this WolverineOptions opts, ClusterSettings cluster, string schema)
    {
        var durability = opts.Durability;
        durability.MessageStorageSchemaName = cluster.MessageSchema is { Length: > 0 } own ? own : schema;
        durability.HealthCheckPollingTime = TimeSpan.FromMilliseconds(cluster.HeartbeatMilliseconds);
        durability.FirstHealthCheckExecution = TimeSpan.FromMilliseconds(Math.Min(cluster.HeartbeatMilliseconds, 1000));
        durability.StaleNodeTimeout = TimeSpan.FromMilliseconds(cluster.StaleNodeMilliseconds);
        durability.StaleNodeEjectionThreshold = cluster.StaleNodeEjectionThreshold;
        durability.OrphanedMessageSweepPollingTime = TimeSpan.FromMilliseconds(cluster.RecoveryPollingMilliseconds);
        durability.NodeReassignmentPollingTime = TimeSpan.FromMilliseconds(cluster.RecoveryPollingMilliseconds);
        // Wolverine waits a random 0.5 to 5 s before its first look at persisted messages; a restarted node looks at once.
        durability.ScheduledJobFirstExecution = TimeSpan.FromMilliseconds(Math.Min(cluster.RecoveryPollingMilliseconds, 500));
        return opts;
    }
}
