using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace Pantheon.IntegrationTests.Deployment;

/// <summary>
/// The compose stack as an operator deploys it: <c>./deploy.sh --offline</c> (images built by
/// <c>scripts/prereqs.sh ensure_deploy_images</c>, which <c>./test.sh</c> runs), then the whole path through the containers:
/// a token from the identity service, a project made through the backend's container (which joins its network at .3), the
/// viewer through the backend, the tools API at .1 from inside the VM, the project deleted, the stack brought down and
/// nothing of it left. Its own stack name, main network and ports keep it apart from a developer's stack.
/// </summary>
[CollectionDefinition(Name)]
public sealed class DeploymentCollection
{
    public const string Name = "deployment";
}

[Collection(DeploymentCollection.Name)]
public sealed class DeploymentTests(ITestOutputHelper output)
{
    private static readonly string Root = FindRoot();
    private static readonly string Stack = $"{TestSettings.Instance}-stack";
    private static readonly string NetPrefix =
        Environment.GetEnvironmentVariable("PANTHEON_DEPLOY_NET_PREFIX") is { Length: > 0 } p ? p : "10.213.7";
    private static readonly string SubnetPool =
        Environment.GetEnvironmentVariable("PANTHEON_DEPLOY_SUBNET_POOL") is { Length: > 0 } s ? s : "10.214.0.0/16";

    [Fact]
    public async Task the_offline_stack_deploys_serves_a_project_end_to_end_and_leaves_nothing_when_brought_down()
    {
        var work = Directory.CreateTempSubdirectory("pantheon-deploy-");
        var backendPort = FreePort();
        var identityPort = FreePort();
        var clientSecret = Convert.ToHexString(Guid.NewGuid().ToByteArray());
        var env = new Dictionary<string, string>
        {
            ["PANTHEON_ENV_FILE"] = Path.Combine(work.FullName, ".env"),
            ["PANTHEON_STACK"] = Stack,
            ["PANTHEON_NET_PREFIX"] = NetPrefix,
            ["PANTHEON_PUBLISH_ADDRESS"] = "127.0.0.1",
            ["PANTHEON_BACKEND_PORT"] = backendPort.ToString(),
            ["PANTHEON_IDENTITY_PORT"] = identityPort.ToString(),
            ["KEYCLOAK_PUBLIC_URL"] = $"http://127.0.0.1:{identityPort}",
            ["OIDC_TEST_CLIENT_SECRET"] = clientSecret,
            ["PANTHEON_DATA_ROOT"] = Path.Combine(work.FullName, "data"),
            ["PANTHEON_SUBNET_POOL"] = SubnetPool,
            ["PANTHEON_VM_IMAGE"] = "pantheon/test-desktop:latest",
            ["PANTHEON_VM_DEVICES"] = "",
            ["PANTHEON_VM_CAP_ADD"] = "",
            ["PANTHEON_VM_BOOT_TIMEOUT_SECONDS"] = "300",
            ["PANTHEON_FILE_SERVER_IMAGE"] = "pantheon/file-server:latest",
        };
        try
        {
            await Down(env); // a run killed before its clean-up left its stack
            var deployed = Stopwatch.StartNew();
            await Run("bash", [Path.Combine(Root, "deploy.sh"), "--offline"], env, TimeSpan.FromMinutes(15));
            output.WriteLine($"deploy.sh --offline: {deployed.Elapsed.TotalSeconds:F1} s to every service healthy");
            (await Docker("inspect", "-f", "{{.Config.User}}|{{.State.Health.Status}}", $"{Stack}-backend")).Trim().ShouldBe("|healthy");
            // The entry point dropped root: the backend's process (PID 1 after the exec) runs as pantheon.
            (await Docker("exec", $"{Stack}-backend", "stat", "-c", "%u", "/proc/1")).Trim().ShouldBe("10001");
            var sizes = await Docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}} {{.Size}}", "pantheon/*");
            output.WriteLine("image sizes:\n" + sizes);

            using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{backendPort}"), Timeout = TimeSpan.FromSeconds(60),
            };
            await ColdStart(http);

            var token = await TokenAsync(identityPort, clientSecret);
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            (await http.GetAsync("/api/me")).StatusCode.ShouldBe(HttpStatusCode.OK);

            var created = await http.PostAsJsonAsync("/api/projects", new { name = "deployed", os = "windows-11" });
            created.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            var project = await Eventually.Get(async () => await http.GetFromJsonAsync<JsonElement>($"/api/projects/{id}"),
                p => p.GetProperty("status").GetString() is "ready" or "failed", TimeSpan.FromMinutes(6), "the project to be ready",
                1000);
            project.GetProperty("status").GetString().ShouldBe("ready", project.ToString());
            var subnet = Subnet.Parse(project.GetProperty("subnet").GetString()!);
            var network = project.GetProperty("network").GetString()!;
            var vm = project.GetProperty("vm_container").GetString()!;

            // The backend's container is on the project network at .3 and reaches the VM's viewer at .2 from there.
            (await AddressOn($"{Stack}-backend", network)).ShouldBe(subnet.Backend);
            (await AddressOn($"{Stack}-tools", network)).ShouldBe(subnet.ToolsApi);
            (await Docker("exec", $"{Stack}-backend", "curl", "-fsS", "-o", "/dev/null", "-w", "%{http_code}",
                $"http://{subnet.Vm}:8006/vnc.html")).ShouldBe("200");

            // From the VM, the backend's API answers neither at .3 (it listens on the main network and loopback only) nor there.
            (await DockerExitCode("exec", vm, "curl", "-fsS", "-m", "3", $"http://{subnet.Backend}:3002/health")).ShouldNotBe(0);
            (await DockerExitCode("exec", vm, "curl", "-fsS", "-m", "3", $"http://{NetPrefix}.2:3002/health")).ShouldNotBe(0);

            await ViewerThroughTheBackend(http, id, backendPort);
            await ToolsListFromInsideTheVm(vm);

            (await http.DeleteAsync($"/api/projects/{id}")).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await Eventually.Get(async () => (await http.GetAsync($"/api/projects/{id}")).StatusCode,
                s => s == HttpStatusCode.NotFound, TimeSpan.FromMinutes(2), "the project to be deleted", 500);
            (await Docker("network", "ls", "-q", "--filter", $"name={network}")).Trim().ShouldBeEmpty();
            (await AddressOn($"{Stack}-backend", network)).ShouldBeNull();
        }
        finally
        {
            await Down(env);
        }

        // Nothing of the stack is left: no container, network or volume with its compose project or its instance label.
        foreach (var kind in new[] { "container", "network", "volume" })
        {
            foreach (var label in new[] { $"com.docker.compose.project={Stack}", $"pantheon.instance={Stack}" })
            {
                var left = kind == "container"
                    ? await Docker("ps", "-aq", "--filter", $"label={label}")
                    : await Docker(kind, "ls", "-q", "--filter", $"label={label}");
                left.Trim().ShouldBeEmpty($"{kind}s labelled {label}");
            }
        }
        Directory.Delete(work.FullName, recursive: true);
    }

    /// <summary>The backend's start inside its container, reported (not asserted): restart to healthy, and to the first 200.</summary>
    private async Task ColdStart(HttpClient http)
    {
        var restarted = Stopwatch.StartNew();
        await Docker("restart", "-t", "10", $"{Stack}-backend");
        var started = DateTimeOffset.Parse((await Docker("inspect", "-f", "{{.State.StartedAt}}", $"{Stack}-backend")).Trim());
        await Eventually.Get(async () =>
        {
            try { return (await http.GetAsync("/health")).StatusCode; }
            catch (HttpRequestException) { return HttpStatusCode.ServiceUnavailable; }
        }, s => s == HttpStatusCode.OK, TimeSpan.FromMinutes(3), "the restarted backend's first 200", 25);
        var firstOk = DateTimeOffset.UtcNow;
        await Eventually.Get(() => Docker("inspect", "-f", "{{.State.Health.Status}}", $"{Stack}-backend"),
            s => s.Trim() == "healthy", TimeSpan.FromMinutes(3), "the restarted backend to be healthy", 100);
        output.WriteLine($"backend cold start in its container: process start to first 200 from /health "
            + $"{(firstOk - started).TotalMilliseconds:F0} ms; restart to healthy {restarted.Elapsed.TotalMilliseconds:F0} ms");
    }

    private static async Task<string> TokenAsync(int identityPort, string secret)
    {
        using var identity = new HttpClient();
        var discovery = await identity.GetFromJsonAsync<JsonElement>(
            $"http://127.0.0.1:{identityPort}/realms/pantheon/.well-known/openid-configuration");
        discovery.GetProperty("issuer").GetString().ShouldBe($"http://127.0.0.1:{identityPort}/realms/pantheon");
        var request = new HttpRequestMessage(HttpMethod.Post, discovery.GetProperty("token_endpoint").GetString())
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "client_credentials" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes($"pantheon-ci:{secret}")));
        var answer = await identity.SendAsync(request);
        var body = await answer.Content.ReadAsStringAsync();
        answer.StatusCode.ShouldBe(HttpStatusCode.OK, body);
        return JsonDocument.Parse(body).RootElement.GetProperty("access_token").GetString()!;
    }

    /// <summary>A ticket, its redirect with the session cookie, noVNC's page, and its WebSocket upgraded to the VM's VNC server.</summary>
    private static async Task ViewerThroughTheBackend(HttpClient http, Guid id, int port)
    {
        var issued = await http.PostAsync($"/api/projects/{id}/viewer-ticket", null);
        issued.StatusCode.ShouldBe(HttpStatusCode.OK);
        var url = (await issued.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("url").GetString()!;
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = http.BaseAddress,
        };
        var opened = await anonymous.GetAsync(url);
        opened.StatusCode.ShouldBe(HttpStatusCode.SeeOther);
        var cookie = opened.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        var page = new HttpRequestMessage(HttpMethod.Get, opened.Headers.Location);
        page.Headers.Add("Cookie", cookie);
        var answer = await anonymous.SendAsync(page);
        answer.StatusCode.ShouldBe(HttpStatusCode.OK);
        (await answer.Content.ReadAsStringAsync()).ShouldContain("noVNC");

        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("binary");
        socket.Options.SetRequestHeader("Cookie", cookie);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/api/projects/{id}/viewer/websockify"), timeout.Token);
        socket.State.ShouldBe(WebSocketState.Open); // the upgrade (101) went through the backend to the VM's websockify
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, timeout.Token);
        Encoding.ASCII.GetString(buffer, 0, received.Count).ShouldStartWith("RFB 003.");
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }

    /// <summary>JSON-RPC over Streamable HTTP with the VM's curl: initialize, then tools/list, with the secret from its .env.</summary>
    private async Task ToolsListFromInsideTheVm(string vm)
    {
        var script = """
            set -eu
            . /shared/.env
            rpc() { curl -fsS -X POST "$MCP_TOOLS_API_URL" -H "Authorization: Bearer $MCP_PROJECT_SECRET" \
                -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -d "$1"; }
            rpc '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},
                 "clientInfo":{"name":"ci","version":"1"}}}'
            echo
            rpc '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{}}'
            """;
        var answer = await Docker("exec", vm, "sh", "-c", script);
        output.WriteLine("tools/list from inside the VM:\n" + answer[..Math.Min(answer.Length, 400)]);
        answer.ShouldContain("\"serverInfo\"");
        foreach (var tool in new[] { "screenshot", "mouse_click", "type_text", "list_files" }) answer.ShouldContain($"\"{tool}\"");
    }

    private async Task<string?> AddressOn(string container, string network)
    {
        var format = $"{{{{with index .NetworkSettings.Networks \"{network}\"}}}}{{{{.IPAddress}}}}{{{{end}}}}";
        var address = (await Docker("inspect", "-f", format, container)).Trim();
        return address.Length == 0 ? null : address;
    }

    private async Task Down(Dictionary<string, string> env)
    {
        await Run("bash", [Path.Combine(Root, "deploy.sh"), "--offline", "--down"], env, TimeSpan.FromMinutes(3));
        // What the stack's backend made (project networks, VMs, volumes) carries its instance label; a killed run may leave some.
        var label = $"label=pantheon.instance={Stack}";
        foreach (var container in Lines(await Docker("ps", "-aq", "--filter", label))) await Docker("rm", "-f", "-v", container);
        foreach (var network in Lines(await Docker("network", "ls", "-q", "--filter", label))) await Docker("network", "rm", network);
        foreach (var volume in Lines(await Docker("volume", "ls", "-q", "--filter", label))) await Docker("volume", "rm", volume);
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private Task<string> Docker(params string[] arguments) => Run("docker", arguments, null, TimeSpan.FromMinutes(2));

    private static async Task<int> DockerExitCode(params string[] arguments)
    {
        var info = new ProcessStartInfo("docker") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info)!;
        await Task.WhenAll(process.StandardOutput.ReadToEndAsync(), process.StandardError.ReadToEndAsync(), process.WaitForExitAsync());
        return process.ExitCode;
    }

    private async Task<string> Run(string program, IReadOnlyList<string> arguments, Dictionary<string, string>? env, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Root };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        foreach (var (key, value) in env ?? []) info.Environment[key] = value;
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', arguments)} ran longer than {timeout}:\n{await stderr}");
        }
        var (o, e) = (await stdout, await stderr);
        if (program != "docker" || process.ExitCode != 0) output.WriteLine(e.Length > 4000 ? e[^4000..] : e);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments.Take(3))} exited {process.ExitCode}:\n{o}\n{e}");
        return o;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "deploy.sh"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("deploy.sh not found above " + AppContext.BaseDirectory);
    }
}
