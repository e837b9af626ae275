using Pantheon.Domain.Tools;
using Pantheon.Tools.Projects;

namespace Pantheon.Tools.Screen;

/// <summary>A screenshot as PNG, with the screen's size.</summary>
public sealed record Screenshot(byte[] Png, int Width, int Height);

/// <summary>
/// The screen tools on the VM's VNC server: one short RFB connection per call, so no session is held between calls and a
/// VM that restarted is simply connected again.
/// </summary>
public sealed class VmScreen(ToolsSettings settings)
{
    public Task<Screenshot> CaptureAsync(ToolProject project, CancellationToken ct) => WithClientAsync(project, async client =>
        new Screenshot(Png.Encode(await client.CaptureAsync(ct), client.Width, client.Height), client.Width, client.Height), ct);

    public Task MoveAsync(ToolProject project, int x, int y, CancellationToken ct) => WithClientAsync(project, async client =>
    {
        CheckInside(client, x, y);
        await client.PointerAsync(x, y, [0], ct);
        return true;
    }, ct);

    /// <summary>Moves to the point and clicks (twice for a double click) with one button: left, middle or right.</summary>
    public Task ClickAsync(ToolProject project, int x, int y, string button, bool twice, CancellationToken ct) => WithClientAsync(project, async client =>
    {
        CheckInside(client, x, y);
        var mask = button switch
        {
            "left" => (byte)1,
            "middle" => (byte)2,
            "right" => (byte)4,
            _ => throw new ScreenToolException($"button must be left, middle or right, not '{button}'"),
        };
        await client.PointerAsync(x, y, twice ? [0, mask, 0, mask, 0] : [0, mask, 0], ct);
        return true;
    }, ct);

    public Task TypeAsync(ToolProject project, string text, CancellationToken ct) => WithClientAsync(project, async client =>
    {
        var keys = text.EnumerateRunes().Select(r => KeySyms.ForChar(r.Value)).SelectMany(k => new[] { (k, true), (k, false) }).ToList();
        await client.KeysAsync(keys, ct);
        return true;
    }, ct);

    /// <summary>Presses the keys in order and lets them go in reverse, as a person holds ctrl, then presses c.</summary>
    public Task PressAsync(ToolProject project, IReadOnlyList<uint> keys, CancellationToken ct) => WithClientAsync(project, async client =>
    {
        await client.KeysAsync([.. keys.Select(k => (k, true)), .. keys.Reverse().Select(k => (k, false))], ct);
        return true;
    }, ct);

    private async Task<T> WithClientAsync<T>(ToolProject project, Func<RfbClient, Task<T>> action, CancellationToken ct)
    {
        if (project.VmAddress is null) throw new ScreenToolException($"the project is {project.Status.ToString().ToLowerInvariant()}: its VM has no screen yet");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(settings.ScreenTimeoutSeconds));
        try
        {
            await using var client = await RfbClient.ConnectAsync(project.VmAddress, settings.VncPort, settings.VncPassword, timeout.Token);
            var result = await action(client);
            if (result is not Screenshot) await client.SyncAsync(timeout.Token);
            return result;
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new ScreenToolException($"the VM's screen did not answer within {settings.ScreenTimeoutSeconds} s (Tools:ScreenTimeoutSeconds)");
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or EndOfStreamException)
        {
            throw new ScreenToolException($"the VM's screen could not be reached: {e.Message}");
        }
        catch (RfbException e)
        {
            throw new ScreenToolException($"the VM's VNC server: {e.Message}");
        }
    }

    private static void CheckInside(RfbClient client, int x, int y)
    {
        if (x < 0 || y < 0 || x >= client.Width || y >= client.Height)
            throw new ScreenToolException($"({x}, {y}) is outside the {client.Width}x{client.Height} screen");
    }
}

/// <summary>A screen tool refused or failed; its message goes to the caller as the tool's error.</summary>
public sealed class ScreenToolException(string message) : Exception(message);
