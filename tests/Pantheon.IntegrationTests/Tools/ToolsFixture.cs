using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.Tools;

namespace Pantheon.IntegrationTests.Tools;

/// <summary>A project of the desktop test VM, as a test of the tools API uses it.</summary>
public sealed record DesktopProject(Guid Id, string Token, Subnet Subnet, string Secret, string VmContainer, string Folder);

/// <summary>
/// The backend (provisioning projects whose VM is <c>pantheon/test-desktop</c>) and the tools API beside it, as a process
/// would run it on the Docker host: listening on every address, giving each project bridge its <c>.1</c> and firewall rules.
/// </summary>
public sealed class ToolsFixture : AppFixture, IAsyncLifetime
{
    /// <summary>A model that takes no images (<c>Chat:TextOnlyModels</c>): screenshots reach it as text.</summary>
    public const string TextOnlyModel = "openai/gpt-3.5-turbo";

    public WebApplication Tools { get; private set; } = null!;
    /// <summary>The tools API's port, chosen before the backend starts so that its agent turns know where to call.</summary>
    public int Port { get; } = FreePort();
    public const long MaxWriteBytes = 4096;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<DesktopProject> _projects = [];

    protected override void Configure(Dictionary<string, string?> settings)
    {
        settings["Vm:Image"] = "pantheon/test-desktop:latest";
        settings["Vm:BootTimeoutSeconds"] = "120";
        settings["Chat:ToolsUrl"] = $"http://127.0.0.1:{Port}/";
        settings["Chat:TimeoutSeconds"] = "60"; // a scripted model may hold its answer until the VM did something
        settings["Chat:ApprovalTimeoutSeconds"] = ApprovalTimeoutSeconds.ToString();
        settings["Chat:MaxToolRounds"] = MaxToolRounds.ToString();
        settings["Chat:TextOnlyModels:0"] = TextOnlyModel;
    }

    public const int ApprovalTimeoutSeconds = 8, MaxToolRounds = 5;

    public async Task StartToolsAsync()
    {
        if (Tools is not null) return;
        var settings = TestSettings.Base();
        // The tools API runs as its own role: every project's row, the project streams' tool events, nothing else.
        settings["ConnectionStrings:Marten"] = TestDatabase.As(TestDatabase.ConnectionString, DatabaseRoles.ToolsRole);
        settings["Tools:Urls"] = $"http://0.0.0.0:{Port}";
        settings["Tools:Port"] = Port.ToString();
        settings["Tools:ManageHostNetwork"] = "true";
        settings["Tools:HostNetworkIntervalSeconds"] = "1";
        settings["Tools:MaxWriteBytes"] = MaxWriteBytes.ToString();
        settings["Tools:ProjectCacheMilliseconds"] = "200";
        // x11vnc in a container on a machine shared by many test runs can take seconds to answer: a bound, not a measure.
        settings["Tools:ScreenTimeoutSeconds"] = "120";
        Tools = ToolsApp.Build(["--environment", "Testing"], settings);
        await Tools.StartAsync();
    }

    /// <summary>The <paramref name="index"/>th desktop project of the collection, provisioned through the API on first use.</summary>
    public async Task<DesktopProject> ProjectAsync(int index = 0)
    {
        await _gate.WaitAsync();
        try
        {
            await StartToolsAsync();
            while (_projects.Count <= index)
            {
                var token = TestSettings.TokenFor(TestSettings.NewUser("tools"));
                var id = await Host.Create(token, $"desktop {_projects.Count}");
                var project = await Host.WaitFor(token, id, ProjectStatus.Ready, seconds: 150);
                project.FailureReason.ShouldBeNull();
                var secret = Host.Services.GetRequiredService<SharedFolders>().ProjectSecret(id);
                _projects.Add(new DesktopProject(id, token, Subnet.Parse(project.Subnet!), secret, $"pantheon-{id:N}-vm",
                    project.SharedFolderPath!));
            }
            return _projects[index];
        }
        finally { _gate.Release(); }
    }

    /// <summary>An MCP client of the official C# SDK, as the backend will use one, on the main network (loopback).</summary>
    public async Task<McpClient> ClientAsync(string secret)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri($"http://127.0.0.1:{Port}/"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {secret}" },
        });
        return await McpClient.CreateAsync(transport);
    }

    /// <summary>Runs a command inside a project's VM container; its exit code and output.</summary>
    public Task<(long ExitCode, string Output)> InVmAsync(DesktopProject project, params string[] command) =>
        Host.Services.GetRequiredService<IVmHost>().ExecAsync(project.VmContainer, command, default);

    /// <summary>
    /// Waits until the desktop shows its terminal. A desktop that has just booted may not show it yet, and a click would
    /// land on the bare screen; the process running is not enough: the window must be mapped for a click to give it the focus.
    /// </summary>
    public Task XtermShownAsync(DesktopProject project) =>
        Eventually.Get(() => InVmAsync(project, "sh", "-c", "DISPLAY=:0 xdotool search --onlyvisible --class xterm"),
            r => r.ExitCode == 0, TimeSpan.FromSeconds(60), "the desktop's xterm window to show", pollMilliseconds: 500);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (Tools is null) return;
        // The projects' networks are gone now: one more round removes their firewall rules.
        await Tools.Services.GetRequiredService<Pantheon.Tools.Network.HostNetwork>().ReconcileAsync(default);
        await Tools.StopAsync(); // stopped first, its hosted services end cleanly instead of being cancelled mid-work
        await Tools.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ToolsCollection : ICollectionFixture<ToolsFixture>
{
    public const string Name = "tools";
}
