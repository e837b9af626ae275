using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Pantheon.Web.Auth;

namespace Pantheon.Benchmarks;

// The viewer's first frame: from opening the noVNC WebSocket to the first byte of the VNC server's first framebuffer
// update, through the backend's proxy (/api/projects/{id}/viewer/websockify, with the session cookie) against the same
// RFB exchange with the VM's 8006 directly, alternating, on one pantheon/test-desktop project. "session" adds what a
// browser does first: a ticket (POST), its redirect and cookie. Usage (PostgreSQL, Docker and the desktop image up):
//   dotnet run -c Release --project bench/Pantheon.Benchmarks -- viewer [runs=200]
public static class ViewerBenchmark
{
    private const string SigningKey = "benchmark-signing-key-0123456789abcdef";

    public static async Task RunAsync(string[] args)
    {
        var runs = args.Length > 0 ? int.Parse(args[0]) : 200;
        await using var backend = await Backend.StartAsync(new Dictionary<string, string>
        {
            ["ConnectionStrings__Marten"] = Environment.GetEnvironmentVariable("PANTHEON_TEST_CONNECTION")
                ?? "Host=127.0.0.1;Port=5433;Database=pantheon;Username=postgres;Password=postgres",
            ["Auth__Issuer"] = "pantheon-bench", ["Auth__SigningKey"] = SigningKey,
            ["Docker__Endpoint"] = Environment.GetEnvironmentVariable("Docker__Endpoint") ?? "unix:///var/run/docker.sock",
            ["Docker__Instance"] = "pantheon-bench-viewer", ["Projects__SubnetPool"] = "172.26.200.0/22",
            ["Projects__DataRoot"] = Path.Combine(Path.GetTempPath(), "pantheon-bench-viewer"),
            ["Projects__FileServerImage"] = "pantheon/file-server:latest", ["Vm__Image"] = "pantheon/test-desktop:latest",
            ["Vm__Devices"] = "", ["Vm__CapAdd"] = "", ["Vm__StopGracePeriodSeconds"] = "1", ["Vm__HealthPollMilliseconds"] = "250",
        });
        var auth = new AuthSettings { Issuer = "pantheon-bench", Audience = "pantheon", SigningKey = SigningKey };
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false })
        {
            BaseAddress = backend.Url,
        };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            DevTokens.Mint(auth, $"bench-{Guid.NewGuid():N}", lifetime: TimeSpan.FromHours(2)));

        var created = await (await http.PostAsJsonAsync("/api/projects", new { name = "viewer-bench" })).EnsureSuccessStatusCode()
            .Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetGuid();
        JsonElement project;
        while ((project = await http.GetFromJsonAsync<JsonElement>($"/api/projects/{id}")).GetProperty("status").GetString() != "ready")
        {
            if (project.GetProperty("status").GetString() == "failed")
                throw new InvalidOperationException(project.GetProperty("failure_reason").GetString());
            await Task.Delay(100);
        }
        var vm = project.GetProperty("vm_address").GetString()!;
        var proxied = new Uri($"ws://{backend.Url.Authority}/api/projects/{id}/viewer/websockify");
        var direct = new Uri($"ws://{vm}:8006/websockify");

        async Task<string> OpenSession()
        {
            var ticket = await (await http.PostAsJsonAsync($"/api/projects/{id}/viewer-ticket", new { })).EnsureSuccessStatusCode()
                .Content.ReadFromJsonAsync<JsonElement>();
            using var opened = await http.GetAsync(ticket.GetProperty("url").GetString());
            if (opened.StatusCode != HttpStatusCode.SeeOther)
                throw new InvalidOperationException($"The ticket answered {opened.StatusCode}.");
            return opened.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
        }
        var cookie = await OpenSession();

        try
        {
            // Warm both paths (JIT, connection set-up) before measuring.
            for (var i = 0; i < 5; i++)
            {
                await FirstFrame(proxied, cookie);
                await FirstFrame(direct, null);
            }
            List<double> viaProxy = [], viaSession = [], straight = [];
            for (var i = 0; i < runs; i++)
            {
                straight.Add(await FirstFrame(direct, null));
                viaProxy.Add(await FirstFrame(proxied, cookie));
                var watch = Stopwatch.StartNew();
                await FirstFrame(proxied, await OpenSession());
                viaSession.Add(watch.Elapsed.TotalMilliseconds);
            }
            Report(runs, "socket", viaProxy, straight);
            Report(runs, "session", viaSession, straight);
        }
        finally
        {
            (await http.DeleteAsync($"/api/projects/{id}")).EnsureSuccessStatusCode();
            while ((await http.GetAsync($"/api/projects/{id}")).IsSuccessStatusCode) await Task.Delay(100);
        }
    }

    private static void Report(int runs, string what, List<double> pantheon, List<double> direct)
    {
        double Percentile(List<double> xs, double p) => xs.Order().ElementAt((int)Math.Ceiling(p * xs.Count) - 1);
        var (p50, d50) = (Percentile(pantheon, 0.5), Percentile(direct, 0.5));
        Console.WriteLine($"viewer first frame, {runs} runs, {what}: through the proxy median {p50:F2} ms "
            + $"p99 {Percentile(pantheon, 0.99):F2} ms | "
            + $"direct to 8006 median {d50:F2} ms p99 {Percentile(direct, 0.99):F2} ms | ratio {p50 / d50:F2}x, added {p50 - d50:F2} ms");
    }

    /// <summary>Milliseconds from opening the WebSocket to the first byte of the first framebuffer update (RFB 3.8, no auth).</summary>
    private static async Task<double> FirstFrame(Uri url, string? cookie)
    {
        using var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol("binary");
        if (cookie is not null) socket.Options.SetRequestHeader("Cookie", cookie);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var ct = timeout.Token;
        var watch = Stopwatch.StartNew();
        await socket.ConnectAsync(url, ct);
        var rfb = new RfbReader(socket);
        await rfb.Read(12, ct); // "RFB 003.008\n"
        await Send(socket, "RFB 003.008\n"u8.ToArray(), ct);
        var types = await rfb.Read((await rfb.Read(1, ct))[0], ct);
        if (!types.Contains((byte)1)) throw new InvalidOperationException("The VNC server wants a password.");
        await Send(socket, [1], ct);
        if ((await rfb.Read(4, ct)).Any(b => b != 0)) throw new InvalidOperationException("The VNC server refused the connection.");
        await Send(socket, [1], ct); // ClientInit: shared
        var init = await rfb.Read(24, ct);
        var (width, height) = ((ushort)(init[0] << 8 | init[1]), (ushort)(init[2] << 8 | init[3]));
        await rfb.Read(init[20] << 24 | init[21] << 16 | init[22] << 8 | init[23], ct); // the desktop's name
        await Send(socket, [3, 0, 0, 0, 0, 0, (byte)(width >> 8), (byte)width, (byte)(height >> 8), (byte)height], ct);
        var type = (await rfb.Read(1, ct))[0];
        var elapsed = watch.Elapsed.TotalMilliseconds;
        if (type != 0) throw new InvalidOperationException($"The first server message was type {type}, not a framebuffer update.");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "measured", ct);
        return elapsed;
    }

    private static Task Send(ClientWebSocket socket, byte[] bytes, CancellationToken ct) =>
        socket.SendAsync(bytes, WebSocketMessageType.Binary, true, ct);

    /// <summary>RFB over WebSocket messages: websockify frames whatever TCP gave it, so reads are by count, across messages.</summary>
    private sealed class RfbReader(ClientWebSocket socket)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _start, _end;

        public async Task<byte[]> Read(int count, CancellationToken ct)
        {
            var result = new byte[count];
            var filled = 0;
            while (filled < count)
            {
                if (_start == _end)
                {
                    var received = await socket.ReceiveAsync(_buffer, ct);
                    if (received.MessageType == WebSocketMessageType.Close)
                        throw new InvalidOperationException("The viewer's socket closed.");
                    (_start, _end) = (0, received.Count);
                }
                var take = Math.Min(count - filled, _end - _start);
                Array.Copy(_buffer, _start, result, filled, take);
                (_start, filled) = (_start + take, filled + take);
            }
            return result;
        }
    }
}
