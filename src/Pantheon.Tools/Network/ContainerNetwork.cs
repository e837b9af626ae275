using Pantheon.Handlers.Projects;
using Pantheon.Tools.Projects;

namespace Pantheon.Tools.Network;

/// <summary>
/// Production, where the tools API is a container (<see cref="ToolsSettings.Container"/>, its own name): it joins each live
/// project's network at <c>.1</c>, the address <c>MCP_TOOLS_API_URL</c> names, as the backend joins at <c>.3</c>. The
/// backend's removal of a project network disconnects it; nothing here removes anything.
/// </summary>
public sealed class ContainerNetwork(ProjectDirectory projects, IVmHost host, ToolsSettings settings, ILogger<ContainerNetwork> logger)
{
    private readonly HashSet<Guid> _joined = [];

    public async Task ReconcileAsync(CancellationToken ct)
    {
        var live = (await projects.LiveAsync(fresh: true, ct)).Where(p => p.NetworkId is not null).ToList();
        foreach (var project in live)
        {
            if (_joined.Contains(project.Id)) continue;
            try
            {
                var network = ProjectProvisioning.NetworkName(project.Id);
                await host.ConnectContainerAsync(settings.Container!, network, project.Subnet.ToolsApi, ct);
                _joined.Add(project.Id);
            }
            catch (VmHostException e)
            {
                // The project may be going away meanwhile: the next round looks again.
                logger.LogWarning("Joining project {ProjectId}'s network at {Address} failed: {Error}", project.Id,
                    project.Subnet.ToolsApi, e.Message);
            }
        }
        _joined.IntersectWith(live.Select(p => p.Id));
    }
}

/// <summary>Runs <see cref="ContainerNetwork"/> at start and every <see cref="ToolsSettings.HostNetworkIntervalSeconds"/>.</summary>
public sealed class ContainerNetworkService(ContainerNetwork network, ToolsSettings settings, ILogger<ContainerNetworkService> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(settings.HostNetworkIntervalSeconds));
        do
        {
            try
            {
                await network.ReconcileAsync(stoppingToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The database or the engine away: the next round tries again.
                logger.LogError(e, "Joining project networks failed");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
