using System.IO.Pipelines;
using System.Net.WebSockets;
using System.Text;
using Pantheon.Web.Live;

namespace Pantheon.IntegrationTests.Live;

/// <summary>
/// A client that stops reading, over a real WebSocket on a transport with real backpressure: two pipes that
/// accept only a few kilobytes before a writer has to wait.
/// </summary>
public class SlowClientTests
{
    [Fact]
    public async Task a_client_that_stops_reading_never_blocks_the_sender_and_is_closed_with_a_reason()
    {
        var (serverStream, clientStream) = Connected();
        using var server = WebSocket.CreateFromStream(serverStream, new WebSocketCreationOptions { IsServer = true });
        using var client = WebSocket.CreateFromStream(clientStream, new WebSocketCreationOptions { IsServer = false });
        var live = new LiveSocket(server, "slow", bufferSize: 4);
        var running = live.RunAsync(CancellationToken.None);

        var message = new string('x', 2048);
        for (var i = 0; i < 200; i++) live.Enqueue(message); // returns at once, however far behind the client is

        var received = 0;
        var buffer = new byte[4096];
        while (true)
        {
            var result = await client.ReceiveAsync(buffer, new CancellationTokenSource(TimeSpan.FromSeconds(20)).Token);
            if (result.MessageType == WebSocketMessageType.Close) break;
            if (result.EndOfMessage) received++;
        }
        client.CloseStatus.ShouldBe(WebSocketCloseStatus.PolicyViolation);
        client.CloseStatusDescription!.ShouldContain("too far behind");
        received.ShouldBeLessThan(200);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
        await running.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static (Stream Server, Stream Client) Connected()
    {
        var options = new PipeOptions(pauseWriterThreshold: 4096, resumeWriterThreshold: 2048);
        var toClient = new Pipe(options);
        var toServer = new Pipe(options);
        return (new Duplex(toServer.Reader, toClient.Writer), new Duplex(toClient.Reader, toServer.Writer));
    }

    private sealed class Duplex(PipeReader reader, PipeWriter writer) : Stream
    {
        private readonly Stream _in = reader.AsStream();
        private readonly Stream _out = writer.AsStream();

        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => _in.ReadAsync(buffer, ct);
        public override void Write(byte[] buffer, int offset, int count) => _out.Write(buffer, offset, count);
        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken ct = default) => _out.WriteAsync(buffer, ct);
        public override Task FlushAsync(CancellationToken ct) => _out.FlushAsync(ct);
        public override void Flush() => _out.Flush();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
