using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// The Docker engine goes away mid-provisioning. Never the shared engine: a private one (<see cref="PrivateDockerEngine"/>)
/// that this test starts, stops and starts again.
/// </summary>
[Collection(FaultsCollection.Name)]
public class EngineOutageTests(ITestOutputHelper output)
{
    private static readonly string[] Images = ["pantheon/file-server:latest", "pantheon/test-vm:latest"];

    private static Task<PrivateDockerEngine> StartEngineAsync() =>
        PrivateDockerEngine.StartAsync($"pte-{TestSettings.Instance}", TestSettings.DockerEndpoint, Images);

    [Fact]
    public async Task a_private_engine_leaves_the_shared_engines_default_bridge_alone()
    {
        await using (var engine = await StartEngineAsync())
            (await engine.RunsAsync("ip", "link", "show", engine.Bridge)).ShouldBeTrue("the private engine's own bridge");

        // A container on the shared engine's default network starts only while its docker0 exists.
        using var docker = new Docker.DotNet.DockerClientConfiguration(new Uri(TestSettings.DockerEndpoint)).CreateClient();
        var name = $"{TestSettings.Instance}-default-bridge";
        await Projects.BackendContainerFixture.RemoveAsync(docker, name);
        await docker.Containers.CreateContainerAsync(new Docker.DotNet.Models.CreateContainerParameters
        {
            Name = name, Image = "pantheon/busybox:latest", Cmd = ["true"],
            Labels = new Dictionary<string, string> { [PantheonLabels.Instance] = TestSettings.Instance },
            HostConfig = new Docker.DotNet.Models.HostConfig { NetworkMode = "bridge" },
        });
        try
        {
            await docker.Containers.StartContainerAsync(name, new Docker.DotNet.Models.ContainerStartParameters());
        }
        finally
        {
            await Projects.BackendContainerFixture.RemoveAsync(docker, name);
        }
    }

    [Fact]
    public async Task steps_retry_with_backoff_while_the_engine_is_away_and_finish_once_it_is_back()
    {
        await using var engine = await StartEngineAsync();
        // A window of 1 + 2 + 4 + 8 + 16 s of retries: longer than the engine takes to stop and start again.
        await using var cluster = await RetryingClusterAsync(engine, maxAttempts: 6);
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("engine-away"));
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++) ids.Add(await cluster.CreateProjectAsync(node, token));

        await Eventually.Get(() => cluster.EventCountsAsync(ids[0]), e => e.ContainsKey("network_allocated"), TimeSpan.FromSeconds(60),
            "the first network", pollMilliseconds: 10);
        var stoppedAt = DateTimeOffset.UtcNow;
        await engine.StopAsync();
        await Eventually.Get(() => cluster.ScalarAsync<long>(
                $"select count(*) from {FaultCluster.Schema}.mt_doc_projectprovisioning where (data->>'Attempts')::int > 0"),
            n => n > 0, TimeSpan.FromSeconds(30), "a step to fail and be retried");
        await engine.StartAsync();
        var backAt = DateTimeOffset.UtcNow;

        foreach (var id in ids) (await cluster.WaitForStatusAsync(id, "Ready", seconds: 180)).ShouldBe("Ready", $"project {id}");
        foreach (var id in ids) await cluster.ShouldBeProvisionedOnceAsync(id);
        var retries = node.Log.Split('\n').Where(l => l.Contains("retrying in", StringComparison.Ordinal)).ToList();
        retries.ShouldNotBeEmpty();
        output.WriteLine($"engine away {(backAt - stoppedAt).TotalSeconds:F1} s (stop and start included); {retries.Count} retries:");
        foreach (var line in retries.Take(12)) output.WriteLine(line.Trim());
    }

    [Fact]
    public async Task a_project_whose_engine_stays_away_past_the_retry_window_fails_with_the_reason_and_leaves_nothing_behind()
    {
        await using var engine = await StartEngineAsync();
        // A window of 1 + 2 s (longer than the engine takes to stop, so the clean-up finds it gone): it stays away far longer.
        await using var cluster = await RetryingClusterAsync(engine, maxAttempts: 3, reconciler: true);
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("engine-gone"));
        var id = await cluster.CreateProjectAsync(node, token);
        await Eventually.Get(() => cluster.EventCountsAsync(id), e => e.ContainsKey("network_allocated"), TimeSpan.FromSeconds(60),
            "the network", pollMilliseconds: 10);
        var made = (await cluster.Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ToList();
        await engine.StopAsync();

        (await cluster.WaitForStatusAsync(id, "Failed", seconds: 120)).ShouldBe("Failed");
        var project = (await cluster.ProjectAsync(node, token, id))!.Value;
        var reason = project.GetProperty("failure_reason").GetString();
        output.WriteLine($"failed at {project.GetProperty("failed_step").GetString()}: {reason}");
        reason.ShouldNotBeNull().ShouldContain("did not answer");
        reason.ShouldContain("cleanup deferred to the reconciler");
        project.GetProperty("failed_step").GetString().ShouldNotBeNullOrEmpty();
        (await cluster.LeasesAsync(id)).ShouldBeEmpty();

        await engine.StartAsync();
        var found = (await cluster.Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ToList();
        output.WriteLine($"made before the stop: {Names(made)}; found after the restart: {Names(found)}");
        // The reconciler records its removals when its pass commits, after the engine has done them.
        await Eventually.Get(() => OrphansRemovedAsync(cluster, id), n => n >= Math.Max(1, found.Count), TimeSpan.FromSeconds(60),
            "the reconciler to record what it removed");
        (await cluster.Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ShouldBeEmpty();
        var removals = node.Log.Split('\n').Where(l => l.Contains("Removed orphaned", StringComparison.Ordinal));
        foreach (var line in removals) output.WriteLine(line.Trim());
    }

    [Fact]
    public async Task a_deletion_asked_while_the_engine_is_away_is_retried_and_leaves_nothing_once_it_is_back()
    {
        await using var engine = await StartEngineAsync();
        // A window of 1 + 2 + 4 + 8 + 16 s of retries: longer than the engine takes to stop and start again.
        await using var cluster = await RetryingClusterAsync(engine, maxAttempts: 6);
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("delete-engine-away"));
        var id = await cluster.CreateProjectAsync(node, token);
        (await cluster.WaitForStatusAsync(id, "Ready", seconds: 60)).ShouldBe("Ready");
        (await cluster.Engine.ListLabelledAsync(default)).ShouldContain(r => r.ProjectId == id && r.Kind == "container");

        await engine.StopAsync();
        try
        {
            await cluster.DeleteProjectAsync(node, token, id);
            await Eventually.Get(() => cluster.ScalarAsync<long>(
                    $"select count(*) from {FaultCluster.Schema}.mt_doc_projectprovisioning where id = @id and (data->>'Attempts')::int > 0",
                    ("id", id)),
                n => n > 0, TimeSpan.FromSeconds(30), "the deletion to fail and be retried");
        }
        finally
        {
            await engine.StartAsync(); // else the cluster's clean-up finds no engine, and its failure hides this one
        }

        await Eventually.Get(() => cluster.EventCountsAsync(id), e => e.ContainsKey("project_deleted"), TimeSpan.FromSeconds(90),
            "the deletion to finish once the engine is back");
        (await cluster.Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ShouldBeEmpty();
        (await cluster.LeasesAsync(id)).ShouldBeEmpty();
        (await cluster.ProjectAsync(node, token, id)).ShouldBeNull();
        foreach (var line in node.Log.Split('\n').Where(l => l.Contains("step delete", StringComparison.Ordinal)).Take(6))
            output.WriteLine(line.Trim());
    }

    [Fact]
    public async Task a_deletion_whose_engine_stays_away_past_the_retry_window_is_recorded_and_the_reconciler_removes_the_rest()
    {
        await using var engine = await StartEngineAsync();
        // A window of 1 + 2 s: the engine stays away far longer.
        await using var cluster = await RetryingClusterAsync(engine, maxAttempts: 3, reconciler: true);
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("delete-engine-gone"));
        var id = await cluster.CreateProjectAsync(node, token);
        (await cluster.WaitForStatusAsync(id, "Ready", seconds: 60)).ShouldBe("Ready");

        await engine.StopAsync();
        try
        {
            await cluster.DeleteProjectAsync(node, token, id);
            await Eventually.Get(() => cluster.EventCountsAsync(id), e => e.ContainsKey("project_deleted"), TimeSpan.FromSeconds(60),
                "the deletion to be recorded while the engine is away");
            (await cluster.LeasesAsync(id)).ShouldBeEmpty();
            (await cluster.ProjectAsync(node, token, id)).ShouldBeNull();
        }
        finally
        {
            await engine.StartAsync();
        }

        // What the deletion could not remove, the reconciler does; it records its removals when its pass commits, after them.
        await Eventually.Get(() => OrphansRemovedAsync(cluster, id), n => n > 0, TimeSpan.FromSeconds(60),
            "the reconciler to remove what the deletion left");
        (await cluster.Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ShouldBeEmpty();
        node.Log.ShouldContain("step delete failed");
    }

    [Fact]
    public async Task the_engines_event_stream_is_followed_again_after_the_engine_restarts()
    {
        await using var engine = await StartEngineAsync();
        // The saga looks at a VM every ten minutes: a project ready within a minute was told by the engine's events.
        await using var cluster = await FaultCluster.CreateAsync(s =>
        {
            s["Docker:Endpoint"] = engine.Endpoint;
            s["Docker:TimeoutSeconds"] = "5";
            s["Vm:HealthPollMilliseconds"] = "600000";
        });
        var node = await cluster.AddNodeAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("events-back"));
        var before = await cluster.CreateProjectAsync(node, token);
        (await cluster.WaitForStatusAsync(before, "Ready", seconds: 60)).ShouldBe("Ready");

        await engine.StopAsync();
        await Eventually.Get(() => Task.FromResult(node.Log), l => l.Contains("event stream", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the node to see its event stream end");
        await engine.StartAsync();

        var after = await cluster.CreateProjectAsync(node, token);
        (await cluster.WaitForStatusAsync(after, "Ready", seconds: 60)).ShouldBe("Ready");
        foreach (var line in node.Log.Split('\n').Where(l => l.Contains("event stream", StringComparison.Ordinal)).Take(6))
            output.WriteLine(line.Trim());
    }

    /// <summary>
    /// A cluster on the private engine whose steps retry a failure that may pass after 1, 2, 4... s, up to
    /// <paramref name="maxAttempts"/> attempts; with <paramref name="reconciler"/>, a reconciler pass every 2 s.
    /// </summary>
    private static Task<FaultCluster> RetryingClusterAsync(PrivateDockerEngine engine, int maxAttempts, bool reconciler = false) =>
        FaultCluster.CreateAsync(s =>
        {
            s["Docker:Endpoint"] = engine.Endpoint;
            s["Docker:TimeoutSeconds"] = "5";
            s["Projects:RetryBaseDelayMilliseconds"] = "1000";
            s["Projects:MaxStepAttempts"] = maxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!reconciler) return;
            s["Projects:ReconcilerEnabled"] = "true";
            s["Projects:ReconcileIntervalSeconds"] = "2";
        });

    /// <summary>The reconciler's <c>orphan_removed</c> events for the project's resources.</summary>
    private static Task<long> OrphansRemovedAsync(FaultCluster cluster, Guid id) => cluster.ScalarAsync<long>(
        $"select count(*) from {FaultCluster.Schema}.mt_events where type = 'orphan_removed' and data->>'ProjectId' = @id",
        ("id", id.ToString()));

    private static string Names(IEnumerable<LabelledResource> resources) => string.Join(", ", resources.Select(r => r.Name));
}
