using System.Buffers.Binary;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Pantheon.Tools.Screen;

/// <summary>
/// A small RFB (VNC) client, protocol 3.8 (3.3 and 3.7 servers too): security None or VNC authentication, a 32-bit
/// true-colour pixel format, raw encoding, pointer and key events. Enough to see and drive a VM's screen through the
/// VNC server of QEMU (<c>dockurr/windows</c>) or x11vnc (the desktop test VM); nothing is installed in the guest.
/// </summary>
public sealed class RfbClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private NetworkStream _stream = null!;

    public int Width { get; private set; }
    public int Height { get; private set; }
    public string Name { get; private set; } = "";

    private RfbClient(TcpClient tcp)
    {
        _tcp = tcp;
    }

    public static async Task<RfbClient> ConnectAsync(string host, int port, string? password, CancellationToken ct)
    {
        var tcp = new TcpClient { NoDelay = true };
        var client = new RfbClient(tcp);
        try
        {
            await tcp.ConnectAsync(host, port, ct);
            client._stream = tcp.GetStream();
            await client.HandshakeAsync(password, ct);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    private async Task HandshakeAsync(string? password, CancellationToken ct)
    {
        var version = Encoding.ASCII.GetString(await ReadAsync(12, ct));
        if (!version.StartsWith("RFB ", StringComparison.Ordinal)) throw new RfbException($"not an RFB server (it said '{version.Trim()}')");
        var minor = int.Parse(version.AsSpan(8, 3));
        var major = int.Parse(version.AsSpan(4, 3));
        minor = major > 3 || minor >= 8 ? 8 : minor >= 7 ? 7 : 3;
        await WriteAsync(Encoding.ASCII.GetBytes($"RFB 003.00{minor}\n"), ct);

        int security;
        if (minor == 3)
        {
            security = (int)await ReadUInt32Async(ct);
            if (security == 0) throw new RfbException($"the server refused the connection: {await ReadReasonAsync(ct)}");
        }
        else
        {
            var count = (await ReadAsync(1, ct))[0];
            if (count == 0) throw new RfbException($"the server refused the connection: {await ReadReasonAsync(ct)}");
            var offered = await ReadAsync(count, ct);
            security = offered.Contains((byte)1) && password is null ? 1
                : offered.Contains((byte)2) ? 2
                : offered.Contains((byte)1) ? 1
                : throw new RfbException($"the server offers none of the security types this client speaks (None, VNC): {string.Join(',', offered)}");
            await WriteAsync([(byte)security], ct);
        }

        if (security == 2)
        {
            if (password is null) throw new RfbException("the VNC server asks for a password: set Tools:VncPassword");
            var challenge = await ReadAsync(16, ct);
            await WriteAsync(VncAuthentication.Response(password, challenge), ct);
        }
        if (security == 2 || minor == 8)
        {
            var result = await ReadUInt32Async(ct);
            if (result != 0) throw new RfbException(minor == 8 ? $"VNC authentication failed: {await ReadReasonAsync(ct)}" : "VNC authentication failed");
        }

        await WriteAsync([1], ct); // ClientInit: shared, so the user's own viewer stays connected
        var init = await ReadAsync(24, ct);
        Width = BinaryPrimitives.ReadUInt16BigEndian(init.AsSpan(0));
        Height = BinaryPrimitives.ReadUInt16BigEndian(init.AsSpan(2));
        Name = Encoding.UTF8.GetString(await ReadAsync((int)BinaryPrimitives.ReadUInt32BigEndian(init.AsSpan(20)), ct));

        // SetPixelFormat: 32 bits per pixel, depth 24, little-endian true colour, red at bit 16, green 8, blue 0.
        var format = new byte[20];
        format[0] = 0;
        format[4] = 32; format[5] = 24; format[6] = 0; format[7] = 1;
        BinaryPrimitives.WriteUInt16BigEndian(format.AsSpan(8), 255);
        BinaryPrimitives.WriteUInt16BigEndian(format.AsSpan(10), 255);
        BinaryPrimitives.WriteUInt16BigEndian(format.AsSpan(12), 255);
        format[14] = 16; format[15] = 8; format[16] = 0;
        // SetEncodings: raw only, the one every server must speak.
        byte[] encodings = [2, 0, 0, 1, 0, 0, 0, 0];
        await WriteAsync([.. format, .. encodings], ct);
    }

    /// <summary>The whole screen as rows of BGRX pixels (4 bytes each), from one full framebuffer update.</summary>
    public Task<byte[]> CaptureAsync(CancellationToken ct) => UpdateAsync(Width, Height, ct);

    /// <summary>
    /// A round trip: the server answers a one-pixel update only after it has handled every event sent before it, so what
    /// was typed or clicked has reached the VM when this returns.
    /// </summary>
    public Task SyncAsync(CancellationToken ct) => UpdateAsync(1, 1, ct);

    private async Task<byte[]> UpdateAsync(int width, int height, CancellationToken ct)
    {
        var request = new byte[10];
        request[0] = 3; request[1] = 0; // FramebufferUpdateRequest, not incremental
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), (ushort)width);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(8), (ushort)height);
        await WriteAsync(request, ct);

        var pixels = new byte[Width * Height * 4];
        while (true)
        {
            var type = (await ReadAsync(1, ct))[0];
            switch (type)
            {
                case 0:
                    var header = await ReadAsync(3, ct);
                    int rectangles = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(1));
                    for (var i = 0; i < rectangles; i++) await ReadRectangleAsync(pixels, ct);
                    return pixels;
                case 1: // SetColourMapEntries: not used in true colour, but it must be read past
                    var colours = await ReadAsync(5, ct);
                    await ReadAsync(BinaryPrimitives.ReadUInt16BigEndian(colours.AsSpan(3)) * 6, ct);
                    break;
                case 2: // Bell
                    break;
                case 3: // ServerCutText
                    await ReadAsync(3, ct);
                    await ReadAsync((int)await ReadUInt32Async(ct), ct);
                    break;
                default:
                    throw new RfbException($"unexpected server message type {type}");
            }
        }
    }

    private async Task ReadRectangleAsync(byte[] pixels, CancellationToken ct)
    {
        var header = await ReadAsync(12, ct);
        int x = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(0)), y = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2));
        int w = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(4)), h = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(6));
        var encoding = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(8));
        if (encoding != 0) throw new RfbException($"the server sent encoding {encoding}, which was not asked for");
        if (x + w > Width || y + h > Height) throw new RfbException("the server sent a rectangle outside the screen");
        var row = w * 4;
        var data = await ReadAsync(row * h, ct);
        for (var r = 0; r < h; r++)
            Buffer.BlockCopy(data, r * row, pixels, ((y + r) * Width + x) * 4, row);
    }

    /// <summary>
    /// Key events in one write: a server such as x11vnc handles the input that one read brings at once, but spends a screen
    /// poll between reads, so events written one by one can take a tenth of a second each.
    /// </summary>
    public Task KeysAsync(IReadOnlyList<(uint Keysym, bool Down)> events, CancellationToken ct)
    {
        var message = new byte[8 * events.Count];
        for (var i = 0; i < events.Count; i++)
        {
            message[8 * i] = 4;
            message[8 * i + 1] = events[i].Down ? (byte)1 : (byte)0;
            BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(8 * i + 4), events[i].Keysym);
        }
        return WriteAsync(message, ct);
    }

    /// <summary>Pointer events in one write (see <see cref="KeysAsync"/>): each at (x, y) with its button mask.</summary>
    public Task PointerAsync(int x, int y, IReadOnlyList<byte> masks, CancellationToken ct)
    {
        var message = new byte[6 * masks.Count];
        for (var i = 0; i < masks.Count; i++)
        {
            message[6 * i] = 5;
            message[6 * i + 1] = masks[i];
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6 * i + 2), (ushort)x);
            BinaryPrimitives.WriteUInt16BigEndian(message.AsSpan(6 * i + 4), (ushort)y);
        }
        return WriteAsync(message, ct);
    }

    private async Task<string> ReadReasonAsync(CancellationToken ct) => Encoding.UTF8.GetString(await ReadAsync((int)await ReadUInt32Async(ct), ct));

    private async Task<uint> ReadUInt32Async(CancellationToken ct) => BinaryPrimitives.ReadUInt32BigEndian(await ReadAsync(4, ct));

    private async Task<byte[]> ReadAsync(int count, CancellationToken ct)
    {
        var buffer = new byte[count];
        await _stream.ReadExactlyAsync(buffer, ct);
        return buffer;
    }

    private async Task WriteAsync(byte[] bytes, CancellationToken ct) => await _stream.WriteAsync(bytes, ct);

    public async ValueTask DisposeAsync()
    {
        if (_stream is not null) await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}

/// <summary>The VNC server failed or refused the protocol.</summary>
public sealed class RfbException(string message) : Exception(message);

/// <summary>VNC authentication: the 16-byte challenge DES-encrypted with the password (8 bytes, each bit-reversed) as key.</summary>
public static class VncAuthentication
{
    public static byte[] Response(string password, byte[] challenge)
    {
        var key = new byte[8];
        var bytes = Encoding.Latin1.GetBytes(password);
        for (var i = 0; i < Math.Min(8, bytes.Length); i++) key[i] = Reverse(bytes[i]);
#pragma warning disable CA5351 // the RFB protocol fixes DES here; it protects nothing beyond what the protocol does
        using var des = DES.Create();
        des.Key = key;
        return des.EncryptEcb(challenge, PaddingMode.None);
#pragma warning restore CA5351
    }

    private static byte Reverse(byte b)
    {
        byte r = 0;
        for (var i = 0; i < 8; i++) r |= (byte)(((b >> i) & 1) << (7 - i));
        return r;
    }
}
