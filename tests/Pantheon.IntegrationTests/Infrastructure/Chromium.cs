using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>Debian's headless Chromium, driven over the DevTools protocol: navigate, evaluate, screenshot.</summary>
public sealed class Chromium : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ClientWebSocket _socket;
    private readonly string _profile;
    private readonly int _port;
    private int _nextId;

    private Chromium(Process process, ClientWebSocket socket, string profile, int port) =>
        (_process, _socket, _profile, _port) = (process, socket, profile, port);

    public static async Task<Chromium> LaunchAsync()
    {
        var profile = Directory.CreateTempSubdirectory("pantheon-chromium-").FullName;
        // Background networking off: this machine reaches no outside host, and Chromium would keep trying.
        var process = Process.Start(new ProcessStartInfo("chromium",
        [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1280,800", "about:blank",
        ]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        _ = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();

        var portFile = Path.Combine(profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!File.Exists(portFile) || new FileInfo(portFile).Length == 0)
        {
            if (process.HasExited || DateTime.UtcNow > deadline) throw new InvalidOperationException("Chromium did not open its DevTools port.");
            await Task.Delay(50);
        }
        var port = int.Parse((await File.ReadAllLinesAsync(portFile))[0]);
        using var http = new HttpClient();
        var pages = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
        var page = pages.First(p => (string?)p!["type"] == "page")!;
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri((string)page["webSocketDebuggerUrl"]!), CancellationToken.None);
        return new Chromium(process, socket, profile, port);
    }

    public Task Navigate(Uri url) => Call("Page.navigate", new JsonObject { ["url"] = url.ToString() });

    /// <summary>
    /// Evaluates JavaScript in the page and returns its value as JSON; <paramref name="userGesture"/> runs it as a person's
    /// click would (what opens a tab).
    /// </summary>
    public async Task<JsonNode?> Evaluate(string expression, bool userGesture = false)
    {
        var result = await Call("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true, ["userGesture"] = userGesture,
        });
        return result["result"]?["value"]?.DeepClone();
    }

    /// <summary>The addresses of every open tab, the one this instance drives included.</summary>
    public async Task<IReadOnlyList<string>> PageUrls()
    {
        using var http = new HttpClient();
        var pages = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{_port}/json/list"))!.AsArray();
        return pages.Where(p => (string?)p!["type"] == "page").Select(p => (string)p!["url"]!).ToList();
    }

    public async Task<bool> WaitFor(string expression, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await Evaluate(expression) is JsonValue value && value.TryGetValue<bool>(out var ok) && ok) return true;
            await Task.Delay(100);
        }
        return false;
    }

    public async Task Screenshot(string path)
    {
        var result = await Call("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String((string)result["data"]!));
    }

    private async Task<JsonNode> Call(string method, JsonObject parameters)
    {
        var id = Interlocked.Increment(ref _nextId);
        var request = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters };
        await _socket.SendAsync(Encoding.UTF8.GetBytes(request.ToJsonString()), WebSocketMessageType.Text, true, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var buffer = new byte[1 << 20];
        while (true)
        {
            using var message = new MemoryStream();
            ValueWebSocketReceiveResult received;
            do
            {
                received = await _socket.ReceiveAsync(buffer.AsMemory(), timeout.Token);
                message.Write(buffer, 0, received.Count);
            } while (!received.EndOfMessage);
            var reply = JsonNode.Parse(message.ToArray())!;
            if ((int?)reply["id"] != id) continue; // an event, or another call's answer
            if (reply["error"] is { } error) throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
            return reply["result"]!;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _socket.Dispose();
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        Directory.Delete(_profile, recursive: true);
    }
}
