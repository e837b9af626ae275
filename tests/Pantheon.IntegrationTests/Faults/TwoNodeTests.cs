using System.Collections.Concurrent;
using Pantheon.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>Two backend processes on one database and one engine: work spread over both, and one of them killed.</summary>
[Collection(FaultsCollection.Name)]
public class TwoNodeTests(ITestOutputHelper output)
{
    private const int Projects = 30;

    [Fact]
    public async Task thirty_creates_over_two_nodes_run_each_step_once_and_the_audit_survives_the_death_of_the_daemons_leader()
    {
        await using var cluster = await FaultCluster.CreateAsync();
        // The first node takes the daemon's shard locks (nobody else is there yet): it is the leader this test kills.
        var leader = await cluster.AddNodeAsync();
        await Eventually.Get(cluster.AdvisoryLocksAsync, l => l.Count > 0, TimeSpan.FromSeconds(60), "the first node to take its locks");
        var other = await cluster.AddNodeAsync();
        var leaderLocks = await HeldThroughoutAsync(cluster, FaultCluster.NodeName(0));
        leaderLocks.ShouldNotBeEmpty();

        using var watching = new CancellationTokenSource();
        var lag = WatchAuditLagAsync(cluster, watching.Token);

        var token = TestSettings.TokenFor(TestSettings.NewUser("two-nodes"));
        var ids = await Task.WhenAll(Enumerable.Range(0, Projects)
            .Select(i => cluster.CreateProjectAsync(i % 2 == 0 ? leader : other, token)));

        // Mid-provisioning: a third of the projects have their network.
        await Eventually.Get(
            () => cluster.ScalarAsync<long>($"select count(*) from {FaultCluster.Schema}.mt_events where type = 'network_allocated'"),
            n => n >= Projects / 3, TimeSpan.FromSeconds(120), "a third of the networks", pollMilliseconds: 20);
        leader.Kill();
        var killedAt = DateTimeOffset.UtcNow;

        foreach (var id in ids) (await cluster.WaitForStatusAsync(id, "Ready", seconds: 240)).ShouldBe("Ready", $"project {id}");
        var locks = await Eventually.Get(cluster.AdvisoryLocksAsync,
            l => leaderLocks.All(k => l.GetValueOrDefault(k) == FaultCluster.NodeName(1)),
            TimeSpan.FromSeconds(60), "the survivor to hold every lock the leader held");
        var events = await cluster.ScalarAsync<long>($"select count(*) from {FaultCluster.Schema}.mt_events");
        await Eventually.Get(() => cluster.ScalarAsync<long>($"select count(*) from {FaultCluster.Schema}.mt_doc_auditentry"),
            n => n >= events,
            TimeSpan.FromSeconds(60), "the audit to catch up");
        await watching.CancelAsync();
        var seen = await lag;

        foreach (var id in ids) await cluster.ShouldBeProvisionedOnceAsync(id);
        var subnets = new List<string>();
        foreach (var id in ids) subnets.AddRange(await cluster.LeasesAsync(id));
        subnets.Distinct().Count().ShouldBe(Projects);
        // Built once: one entry per event, none missing, none twice (the entry's id is the event's sequence).
        (await cluster.ScalarAsync<long>(
            $"select count(*) from {FaultCluster.Schema}.mt_events e left join {FaultCluster.Schema}.mt_doc_auditentry a " +
            "on a.id = e.seq_id where a.id is null"))
            .ShouldBe(0);
        (await cluster.ScalarAsync<long>($"select count(*) from {FaultCluster.Schema}.mt_doc_auditentry")).ShouldBe(events);

        var before = seen.Where(s => s.CommittedAt < killedAt).Select(s => s.Lag).DefaultIfEmpty().Max();
        var during = seen.Where(s => s.CommittedAt >= killedAt).Select(s => s.Lag).DefaultIfEmpty().Max();
        output.WriteLine($"{events} events; audit lag (commit to audit entry) at most {before.TotalSeconds:F1} s before the kill, " +
            $"{during.TotalSeconds:F1} s for events committed after it; the survivor held the leader's {leaderLocks.Count} locks " +
            $"{(locks.Count > 0 ? "" : "(none)")}");
    }

    /// <summary>The advisory locks the node holds in three looks half a second apart: its leaderships, not a passing lock.</summary>
    private static async Task<List<long>> HeldThroughoutAsync(FaultCluster cluster, string node)
    {
        IEnumerable<long>? held = null;
        for (var look = 0; look < 3; look++)
        {
            if (look > 0) await Task.Delay(500); // spacing between looks, not a wait for an outcome
            var now = (await cluster.AdvisoryLocksAsync()).Where(l => l.Value == node).Select(l => l.Key);
            held = held is null ? now.ToList() : held.Intersect(now).ToList();
        }
        return held!.ToList();
    }

    /// <summary>Polls the audit's progress; for each event, how long after its commit the audit held it.</summary>
    private static async Task<List<(DateTimeOffset CommittedAt, TimeSpan Lag)>> WatchAuditLagAsync(FaultCluster cluster,
        CancellationToken stop)
    {
        var seen = new ConcurrentDictionary<long, (DateTimeOffset, TimeSpan)>();
        await using var connection = await cluster.OpenAsync();
        while (!stop.IsCancellationRequested)
        {
            var now = DateTimeOffset.UtcNow;
            await using var command = new Npgsql.NpgsqlCommand(
                $"""
                select e.seq_id, e.timestamp from {FaultCluster.Schema}.mt_events e
                 where e.seq_id <= coalesce((select max(id) from {FaultCluster.Schema}.mt_doc_auditentry), 0)
                   and e.seq_id > @after order by e.seq_id
                """, connection);
            command.Parameters.AddWithValue("after", seen.Keys.DefaultIfEmpty(0).Max());
            await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
            {
                while (await reader.ReadAsync(CancellationToken.None))
                {
                    var committed = reader.GetFieldValue<DateTimeOffset>(1);
                    seen[reader.GetInt64(0)] = (committed, now - committed);
                }
            }
            await Task.Delay(100, CancellationToken.None);
        }
        return seen.Values.ToList();
    }
}
