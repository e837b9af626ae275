using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// <c>kill -9</c> of a backend mid-saga: the restarted node, or a surviving one, finishes the project exactly once. The
/// figures (how long until the saga moved again) are printed, not asserted: they measure this machine as much as the code.
/// </summary>
[Collection(FaultsCollection.Name)]
public class KilledNodeTests(ITestOutputHelper output)
{
    /// <summary>Where the kill lands: right after an event, or while the saga polls the VM's health.</summary>
    public static TheoryData<string> KillPoints => ["network_allocated", "shared_folder_prepared", "waiting_for_vm"];

    [Theory]
    [MemberData(nameof(KillPoints))]
    public async Task a_node_killed_mid_saga_finishes_the_project_exactly_once_after_its_restart(string point)
    {
        await using var cluster = await FaultCluster.CreateAsync(SlowBoot);
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("killed"));
        var id = await cluster.CreateProjectAsync(node, token);

        var killedAt = await KillAtAsync(cluster, node, id, point);
        var before = await cluster.LastEventAsync(id);
        await node.RestartAsync();
        var resumed = await ResumedAsync(cluster, id, killedAt);

        (await cluster.WaitForStatusAsync(id, "Ready")).ShouldBe("Ready");
        await cluster.ShouldBeProvisionedOnceAsync(id);
        output.WriteLine($"killed at {point} (last event then: {before!.Value.Type}); the restarted process answered /health after " +
            $"{Seconds(node.HealthyAt - node.StartedAt)}; its first saga step ran {Seconds(resumed - node.HealthyAt)} after that " +
            $"({Seconds(resumed - node.StartedAt)} after the restart, {Seconds(resumed - killedAt)} after the kill)");
        output.WriteLine(Ejections(node));
    }

    [Fact]
    public async Task a_surviving_node_finishes_the_saga_of_a_node_killed_mid_saga_exactly_once()
    {
        await using var cluster = await FaultCluster.CreateAsync(SlowBoot);
        var doomed = await cluster.AddNodeAsync();
        var survivor = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("survived"));
        var id = await cluster.CreateProjectAsync(doomed, token);

        var killedAt = await KillAtAsync(cluster, doomed, id, "waiting_for_vm");
        var resumed = await ResumedAsync(cluster, id, killedAt);

        (await cluster.WaitForStatusAsync(id, "Ready")).ShouldBe("Ready");
        await cluster.ShouldBeProvisionedOnceAsync(id);
        output.WriteLine($"killed while waiting for the VM; the survivor ran the saga's next step {Seconds(resumed - killedAt)} " +
            "after the kill");
        output.WriteLine(Ejections(survivor));
    }

    /// <summary>The VM takes a few seconds to be healthy, so that a kill can land while the saga waits for it.</summary>
    private static void SlowBoot(Dictionary<string, string?> settings) => settings["Vm:Environment:READY_DELAY"] = "6";

    private static async Task<DateTimeOffset> KillAtAsync(FaultCluster cluster, BackendProcess node, Guid id, string point)
    {
        Func<Task<bool>> reached = point switch
        {
            "waiting_for_vm" => async () => await cluster.SagaStepAsync(id) == "WaitingForVm",
            _ => async () => (await cluster.EventCountsAsync(id)).ContainsKey(point),
        };
        await Eventually.Get(reached, r => r, TimeSpan.FromSeconds(60), $"project {id} to reach {point}", pollMilliseconds: 10);
        node.Kill();
        return DateTimeOffset.UtcNow;
    }

    /// <summary>When a saga step next committed after the kill, by whichever node: the saga document is stored by every step.</summary>
    private static Task<DateTimeOffset> ResumedAsync(FaultCluster cluster, Guid id, DateTimeOffset killedAt) =>
        Eventually.Get(async () => new DateTimeOffset(DateTime.SpecifyKind(await cluster.ScalarAsync<DateTime>(
                $"select mt_last_modified from {FaultCluster.Schema}.mt_doc_projectprovisioning where id = @id", ("id", id)),
                DateTimeKind.Utc)),
            at => at > killedAt, TimeSpan.FromSeconds(180), $"the saga of {id} to move on", pollMilliseconds: 50);

    private static string Seconds(TimeSpan span) => $"{span.TotalSeconds:F1} s";

    private static string Ejections(BackendProcess node) =>
        string.Join('\n', node.Log.Split('\n').Where(l => l.Contains("stale node", StringComparison.OrdinalIgnoreCase)).Take(5));
}
