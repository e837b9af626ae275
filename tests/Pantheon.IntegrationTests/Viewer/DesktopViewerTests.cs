using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Viewer;

/// <summary>A backend process whose projects run <c>pantheon/test-desktop</c>, and one ready project of one user.</summary>
public sealed class DesktopProjectFixture : IAsyncLifetime
{
    public const int ScreenWidth = 1024, ScreenHeight = 768, TicketSeconds = 600;

    public BackendProcess Backend { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public Guid Project { get; private set; }

    /// <summary>The project's owner, an operator too, so that the operations page shows both its tables.</summary>
    public string Token { get; }

    public string User { get; } = TestSettings.NewUser("desktop");

    public DesktopProjectFixture() => Token = TestSettings.TokenFor(User, roles: AuthSettings.AdminRole);

    public async Task InitializeAsync()
    {
        var settings = TestSettings.Base();
        settings["Vm:Image"] = "pantheon/test-desktop:latest";
        settings["Vm:Environment:SCREEN_SIZE"] = $"{ScreenWidth}x{ScreenHeight}";
        settings["Vm:BootTimeoutSeconds"] = "180";
        settings["Viewer:TicketSeconds"] = TicketSeconds.ToString();
        Backend = await TestBackend.StartAsync(settings);
        Http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = Backend.Url };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        var created = await (await Http.PostAsJsonAsync("/api/projects", new { name = "desktop" }))
            .Content.ReadFromJsonAsync<JsonElement>();
        Project = created.GetProperty("id").GetGuid();
        var status = await Eventually.Get(
            async () => (await Http.GetFromJsonAsync<JsonElement>($"/api/projects/{Project}")).GetProperty("status").GetString(),
            s => s is "ready" or "failed", TimeSpan.FromSeconds(240), "the desktop project to be ready");
        status.ShouldBe("ready");
    }

    public async Task<JsonElement> Ticket() =>
        await (await Http.PostAsJsonAsync($"/api/projects/{Project}/viewer-ticket", new { })).EnsureSuccessStatusCode()
            .Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>A fresh ticket's viewer URL.</summary>
    public async Task<string> ViewerUrl() => (await Ticket()).GetProperty("url").GetString()!;

    public async Task DisposeAsync()
    {
        (await Http.DeleteAsync($"/api/projects/{Project}")).EnsureSuccessStatusCode();
        await Eventually.Get(async () => (await Http.GetAsync($"/api/projects/{Project}")).StatusCode, s => s == HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), "the desktop project to be deleted");
        Http.Dispose();
        await Backend.DisposeAsync();
    }
}

[Collection(AppCollection.Name)]
public class DesktopViewerTests(DesktopProjectFixture desktop) : IClassFixture<DesktopProjectFixture>
{
    [Fact]
    public async Task headless_chromium_sees_the_vms_desktop_through_the_proxy()
    {
        await using var browser = await Chromium.LaunchAsync();
        await browser.Navigate(new Uri(desktop.Backend.Url, await desktop.ViewerUrl()));

        const string canvas = "document.querySelector('#noVNC_container canvas')";
        var connected = $"document.documentElement.classList.contains('noVNC_connected') && {canvas}?.width === "
            + $"{DesktopProjectFixture.ScreenWidth} && {canvas}?.height === {DesktopProjectFixture.ScreenHeight}";
        (await browser.WaitFor(connected, TimeSpan.FromSeconds(60))).ShouldBeTrue(
            $"noVNC never connected at the VM's screen size (page: {await browser.Evaluate("document.location.href")}, "
            + $"canvas: {await browser.Evaluate($"{canvas} && {canvas}.width + 'x' + {canvas}.height")})");
        // Lit pixels, sampled: Xvfb's root is black, the terminal the desktop opens is white.
        const string lit = $$"""
            (() => { const c = {{canvas}}; const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              let lit = 0, seen = 0; for (let i = 0; i < d.length; i += 4 * 31) { seen++; if (d[i] + d[i + 1] + d[i + 2] > 96) lit++; }
              return lit / seen; })()
            """;
        (await browser.WaitFor($"{lit} > 0.05", TimeSpan.FromSeconds(30)))
            .ShouldBeTrue($"the canvas stayed blank ({await browser.Evaluate(lit)} lit)");
        await browser.Screenshot(Path.Combine(AppContext.BaseDirectory, "screenshots", "viewer.png"));
    }

    [Fact]
    public async Task a_ticket_lives_as_long_as_the_setting_says()
    {
        var before = DateTimeOffset.UtcNow;
        var expires = (await desktop.Ticket()).GetProperty("expires_at").GetDateTimeOffset();
        const int lifetime = DesktopProjectFixture.TicketSeconds;
        expires.ShouldBeInRange(before.AddSeconds(lifetime - 5), DateTimeOffset.UtcNow.AddSeconds(lifetime));
    }

    [Fact]
    public async Task the_viewers_websocket_carries_frames_both_ways()
    {
        var opened = await desktop.Http.GetAsync(await desktop.ViewerUrl());
        opened.StatusCode.ShouldBe(HttpStatusCode.SeeOther);
        var cookie = opened.Headers.GetValues("Set-Cookie").Single().Split(';')[0];

        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("binary");
        socket.Options.SetRequestHeader("Cookie", cookie);
        var ws = new UriBuilder(desktop.Backend.Url) { Scheme = "ws", Path = $"/api/projects/{desktop.Project}/viewer/websockify" }.Uri;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await socket.ConnectAsync(ws, timeout.Token);

        // RFB: the VM's VNC server speaks first (its version), the client answers with its own, the server offers security types.
        (await Receive(socket, timeout.Token)).ShouldStartWith("RFB 003.");
        await socket.SendAsync("RFB 003.008\n"u8.ToArray(), WebSocketMessageType.Binary, true, timeout.Token);
        var security = Encoding.Latin1.GetBytes(await Receive(socket, timeout.Token));
        security.Length.ShouldBeGreaterThan(1);
        security[0].ShouldBeGreaterThan((byte)0, "the server offered no security type");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);

        // Without the cookie there is no socket.
        using var stranger = new ClientWebSocket();
        stranger.Options.AddSubProtocol("binary");
        await Should.ThrowAsync<WebSocketException>(() => stranger.ConnectAsync(ws, timeout.Token));
    }

    [Fact]
    public async Task the_operations_page_connects_to_a_ready_projects_viewer_and_offers_the_operator_stop_and_restart()
    {
        await using var browser = await Chromium.LaunchAsync();
        await browser.Navigate(new Uri(desktop.Backend.Url, $"/admin/#token={desktop.Token}"));
        var connect = $"document.querySelector('#projects tr[data-project-id=\"{desktop.Project}\"] a[data-action=connect]')";
        (await browser.WaitFor($"{connect} !== null", TimeSpan.FromSeconds(30))).ShouldBeTrue("no Connect link on the ready project");

        await browser.Evaluate($"{connect}.click()", userGesture: true);
        var viewer = $"/api/projects/{desktop.Project}/viewer/vnc.html?";
        // Opened with the ticket, the tab lands on the same page without it.
        await Eventually.Get(browser.PageUrls, u => u.Any(url => url.Contains(viewer) && !url.Contains("ticket=")),
            TimeSpan.FromSeconds(30),
            "the viewer's tab, without its ticket");

        // The page side of the operator's buttons: each asks the backend for its transition on this project.
        await browser.Evaluate("""
            window.requests = []; const send = window.fetch;
            window.fetch = (url, options) => { window.requests.push(`${options?.method || 'GET'} ${url}`); return send(url, options); };
            """);
        // The owner's filter: a full run leaves many failed projects, which the dashboard lists before ready ones.
        await browser.Evaluate($"$('filter-owner').value = '{desktop.User}'; $('filters').requestSubmit()");
        var row = $"document.querySelector('#sagas tr[data-project-id=\"{desktop.Project}\"]')";
        (await browser.WaitFor($"{row}?.querySelector('[data-role=status]')?.textContent === 'ready'", TimeSpan.FromSeconds(30)))
            .ShouldBeTrue("the dashboard does not show the project ready");
        (await browser.Evaluate($"[...{row}.querySelectorAll('button')].map(b => b.dataset.action).join(',')"))!.GetValue<string>()
            .ShouldBe("stop,restart");
        // The operator stops the project from the page, then starts it again from the page: each button asks the backend
        // for its transition, and the project really goes there (and is ready again for the other tests of this class).
        await Click(browser, row, "stop");
        await ProjectReaches("stopped");
        await browser.Evaluate("$('filters').requestSubmit()");
        (await browser.WaitFor($"{row}?.querySelector('[data-role=status]')?.textContent === 'stopped'", TimeSpan.FromSeconds(30)))
            .ShouldBeTrue("the dashboard does not show the project stopped");
        (await browser.Evaluate($"[...{row}.querySelectorAll('button')].map(b => b.dataset.action).join(',')"))!.GetValue<string>()
            .ShouldBe("start");
        await Click(browser, row, "start");
        await ProjectReaches("ready");
        await browser.Screenshot(Path.Combine(AppContext.BaseDirectory, "screenshots", "operations-connect.png"));
    }

    private async Task Click(Chromium browser, string row, string action)
    {
        await browser.Evaluate($"{row}.querySelector('button[data-action={action}]').click()");
        var sent = $"window.requests.includes('POST /api/admin/projects/{desktop.Project}/{action}')";
        (await browser.WaitFor(sent, TimeSpan.FromSeconds(10)))
            .ShouldBeTrue($"the {action} button sent {await browser.Evaluate("window.requests.join(', ')")}");
    }

    private Task ProjectReaches(string status) => Eventually.Get(
        async () => (await desktop.Http.GetFromJsonAsync<JsonElement>($"/api/projects/{desktop.Project}")).GetProperty("status").GetString(),
        s => s == status, TimeSpan.FromSeconds(120), $"the desktop project to be {status}");

    private static async Task<string> Receive(ClientWebSocket socket, CancellationToken ct)
    {
        var buffer = new byte[4096];
        var result = await socket.ReceiveAsync(buffer, ct);
        return Encoding.Latin1.GetString(buffer, 0, result.Count);
    }
}
