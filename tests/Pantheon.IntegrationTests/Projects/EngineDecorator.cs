using Pantheon.Handlers.Projects;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>The real engine, with the one call a test changes overridden: every other call goes straight to it.</summary>
public abstract class EngineDecorator(IVmHost engine) : IVmHost
{
    protected IVmHost Engine { get; } = engine;

    public virtual Task<IReadOnlyList<string>> UsedSubnetsAsync(CancellationToken ct) => Engine.UsedSubnetsAsync(ct);
    public virtual Task<string> EnsureNetworkAsync(ProjectNetworkSpec spec, CancellationToken ct) => Engine.EnsureNetworkAsync(spec, ct);
    public virtual Task<string> EnsureContainerStartedAsync(ContainerSpec spec, CancellationToken ct) =>
        Engine.EnsureContainerStartedAsync(spec, ct);
    public virtual Task<ContainerState> InspectAsync(string nameOrId, CancellationToken ct) => Engine.InspectAsync(nameOrId, ct);
    public virtual Task StopContainerAsync(string nameOrId, TimeSpan grace, CancellationToken ct) =>
        Engine.StopContainerAsync(nameOrId, grace, ct);
    public virtual Task ConnectContainerAsync(string container, string networkName, string ipAddress, CancellationToken ct) =>
        Engine.ConnectContainerAsync(container, networkName, ipAddress, ct);
    public virtual Task DisconnectContainerAsync(string container, string networkName, CancellationToken ct) =>
        Engine.DisconnectContainerAsync(container, networkName, ct);
    public virtual Task RemoveProjectAsync(Guid projectId, CancellationToken ct) => Engine.RemoveProjectAsync(projectId, ct);
    public virtual Task<IReadOnlyList<LabelledResource>> ListLabelledAsync(CancellationToken ct) => Engine.ListLabelledAsync(ct);
    public virtual Task RemoveAsync(LabelledResource resource, CancellationToken ct) => Engine.RemoveAsync(resource, ct);
    public virtual Task<(long ExitCode, string Output)> ExecAsync(string container, IReadOnlyList<string> command, CancellationToken ct) =>
        Engine.ExecAsync(container, command, ct);
}
