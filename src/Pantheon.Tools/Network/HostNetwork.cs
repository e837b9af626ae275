using System.Diagnostics;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Tools.Projects;

namespace Pantheon.Tools.Network;

/// <summary>
/// Development and tests, where the tools API is a process on the Docker host (<see cref="ToolsSettings.ManageHostNetwork"/>):
/// gives each live project's bridge (<c>br-</c> and the network id's first 12 characters) the address <c>.1</c> beside
/// Docker's gateway <c>.254</c>, and keeps its VM to that one address and port on the host. In the <c>PANTHEON-VM-INPUT</c>
/// chain (jumped to first from <c>INPUT</c>): answers to connections the host opened pass (the backend's viewer proxy);
/// then, per bridge, TCP to its own <c>.1:8090</c> passes and everything else arriving from the bridge is dropped, so the
/// backend's port, other projects' <c>.1</c> and <c>.254</c> and every other host address are unreachable from the VM.
/// Rules carry a comment with this deployment's instance, and those of projects that are gone are removed.
/// </summary>
public sealed class HostNetwork(ProjectDirectory projects, ToolsSettings settings, DockerSettings docker, ILogger<HostNetwork> logger)
{
    public const string Chain = "PANTHEON-VM-INPUT";

    private string Comment => $"pantheon-tools:{docker.Instance}";

    public async Task ReconcileAsync(CancellationToken ct)
    {
        var live = (await projects.LiveAsync(fresh: true, ct)).Where(p => p.NetworkId is { Length: >= 12 }).ToList();
        await EnsureChainAsync(ct);
        var wanted = new HashSet<string>();
        foreach (var project in live)
        {
            var bridge = "br-" + project.NetworkId![..12];
            if (!Directory.Exists($"/sys/class/net/{bridge}")) continue; // the network is not on this engine (yet)
            wanted.Add(bridge);
            await EnsureAddressAsync(bridge, project.Subnet.ToolsApi, ct);
            await EnsureRulesAsync(bridge, project.Subnet.ToolsApi, ct);
        }
        await RemoveStaleRulesAsync(wanted, ct);
    }

    private async Task EnsureAddressAsync(string bridge, string address, CancellationToken ct)
    {
        var (_, shown) = await RunAsync("ip", ["-o", "-4", "addr", "show", "dev", bridge], ct);
        if (shown.Contains($" {address}/", StringComparison.Ordinal)) return;
        await RunCheckedAsync("ip", ["addr", "add", $"{address}/32", "dev", bridge], ct);
        logger.LogInformation("Tools API address {Address} added to {Bridge}", address, bridge);
    }

    private async Task EnsureChainAsync(CancellationToken ct)
    {
        if ((await RunAsync("iptables", ["-w", "-n", "-L", Chain], ct)).ExitCode != 0)
            await RunCheckedAsync("iptables", ["-w", "-N", Chain], ct);
        string[] established = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"];
        if ((await RunAsync("iptables", ["-w", "-C", Chain, .. established], ct)).ExitCode != 0)
            await RunCheckedAsync("iptables", ["-w", "-I", Chain, "1", .. established], ct);
        if ((await RunAsync("iptables", ["-w", "-C", "INPUT", "-j", Chain], ct)).ExitCode != 0)
            await RunCheckedAsync("iptables", ["-w", "-I", "INPUT", "1", "-j", Chain], ct);
    }

    private async Task EnsureRulesAsync(string bridge, string address, CancellationToken ct)
    {
        string[] allow = ["-i", bridge, "-d", $"{address}/32", "-p", "tcp", "--dport", settings.Port.ToString(),
            "-m", "comment", "--comment", Comment, "-j", "RETURN"];
        string[] drop = ["-i", bridge, "-m", "comment", "--comment", Comment, "-j", "DROP"];
        var hasAllow = (await RunAsync("iptables", ["-w", "-C", Chain, .. allow], ct)).ExitCode == 0;
        var hasDrop = (await RunAsync("iptables", ["-w", "-C", Chain, .. drop], ct)).ExitCode == 0;
        if (hasAllow && hasDrop) return;
        // The pass must come before the drop: append both again, in that order.
        if (hasDrop) await RunCheckedAsync("iptables", ["-w", "-D", Chain, .. drop], ct);
        if (!hasAllow) await RunCheckedAsync("iptables", ["-w", "-A", Chain, .. allow], ct);
        await RunCheckedAsync("iptables", ["-w", "-A", Chain, .. drop], ct);
        logger.LogInformation("Firewall rules for {Bridge}: only {Address}:{Port} on the host", bridge, address, settings.Port);
    }

    private async Task RemoveStaleRulesAsync(HashSet<string> wanted, CancellationToken ct)
    {
        var (_, rules) = await RunCheckedAsync("iptables", ["-w", "-S", Chain], ct);
        foreach (var rule in rules.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!rule.Contains($"\"{Comment}\"", StringComparison.Ordinal) && !rule.Contains($" {Comment} ", StringComparison.Ordinal)) continue;
            var parts = rule.Split(' ');
            var bridge = parts.SkipWhile(p => p != "-i").Skip(1).FirstOrDefault();
            if (bridge is null || wanted.Contains(bridge)) continue;
            // "-A CHAIN ..." as listed becomes "-D CHAIN ..."; the comment is one word, so the split is exact.
            string[] listed = [.. parts.Skip(1).Select(p => p.Trim('"'))];
            var (code, output) = await RunAsync("iptables", ["-w", "-D", .. listed], ct);
            // Another reconcile of this instance (the service's own loop, a second process) may have removed it since the
            // listing: a rule that is gone is what this wanted. One that is still there failed for a reason of its own.
            if (code != 0 && (await RunAsync("iptables", ["-w", "-C", .. listed], ct)).ExitCode == 0)
                throw new InvalidOperationException($"iptables -w -D {string.Join(' ', listed)} exited {code}: {output.Trim()}");
        }
    }

    private static async Task<(int ExitCode, string Output)> RunCheckedAsync(string program, string[] arguments, CancellationToken ct)
    {
        var (code, output) = await RunAsync(program, arguments, ct);
        if (code != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} exited {code}: {output.Trim()}");
        return (code, output);
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] arguments, CancellationToken ct)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var output = process.StandardOutput.ReadToEndAsync(ct);
        var error = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        return (process.ExitCode, await output + await error);
    }
}

/// <summary>Runs <see cref="HostNetwork"/> at start and every <see cref="ToolsSettings.HostNetworkIntervalSeconds"/>.</summary>
public sealed class HostNetworkService(HostNetwork network, ToolsSettings settings, ILogger<HostNetworkService> logger) : BackgroundService
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
                // The next round tries again; a missing tool or privilege shows here in the log every round.
                logger.LogError(e, "Setting up project bridges for the tools API failed");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
