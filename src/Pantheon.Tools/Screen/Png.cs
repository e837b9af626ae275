using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Pantheon.Tools.Screen;

/// <summary>PNG encoding of a BGRX framebuffer as 8-bit RGB: zlib from the base library, a table CRC-32, nothing else.</summary>
public static class Png
{
    private static readonly uint[] CrcTable = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        return c;
    }).ToArray();

    public static byte[] Encode(byte[] bgrx, int width, int height)
    {
        using var output = new MemoryStream();
        output.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a]);

        var header = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(0), (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(4), (uint)height);
        header[8] = 8; // bits per channel
        header[9] = 2; // colour type: RGB
        WriteChunk(output, "IHDR", header);

        using var compressed = new MemoryStream();
        using (var zlib = new ZLibStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            var row = new byte[1 + width * 3];
            for (var y = 0; y < height; y++)
            {
                // Filter "Sub": each byte minus the one three to the left, which screens of flat colour compress well.
                row[0] = 1;
                var source = y * width * 4;
                byte pr = 0, pg = 0, pb = 0;
                for (var x = 0; x < width; x++, source += 4)
                {
                    byte r = bgrx[source + 2], g = bgrx[source + 1], b = bgrx[source];
                    var target = 1 + x * 3;
                    row[target] = (byte)(r - pr);
                    row[target + 1] = (byte)(g - pg);
                    row[target + 2] = (byte)(b - pb);
                    (pr, pg, pb) = (r, g, b);
                }
                zlib.Write(row);
            }
        }
        WriteChunk(output, "IDAT", compressed.ToArray());
        WriteChunk(output, "IEND", []);
        return output.ToArray();
    }

    public static uint Crc(ReadOnlySpan<byte> bytes, uint crc = 0)
    {
        crc ^= 0xffffffffu;
        foreach (var b in bytes) crc = CrcTable[(crc ^ b) & 0xff] ^ (crc >> 8);
        return crc ^ 0xffffffffu;
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(length, (uint)data.Length);
        output.Write(length);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        output.Write(typeBytes);
        output.Write(data);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc(data, Crc(typeBytes)));
        output.Write(crc);
    }
}
