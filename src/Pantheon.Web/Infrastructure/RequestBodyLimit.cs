using Microsoft.AspNetCore.Http.Features;

namespace Pantheon.Web.Infrastructure;

/// <summary>
/// Caps request bodies at <see cref="MaxBytes"/>: a declared length over it is refused at once with 413, and a
/// chunked body is cut off once it passes the cap. Kestrel enforces the same limit, but not every server
/// (the test server among them) does, so the rule lives here.
/// </summary>
public static class RequestBodyLimit
{
    public const long MaxBytes = 1024 * 1024;

    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        if (context.Request.ContentLength > MaxBytes)
        {
            await Problems.Write(context, StatusCodes.Status413PayloadTooLarge, "Request body too large",
                $"The request body is larger than {MaxBytes} bytes.");
            return;
        }

        var feature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false }) feature.MaxRequestBodySize = MaxBytes;
        else if (context.Request.ContentLength is null)
            context.Request.Body = new CappedStream(context.Request.Body, MaxBytes);

        await next(context);
    });

    private sealed class CappedStream(Stream inner, long cap) : Stream
    {
        private long _read;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _read; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Count(await inner.ReadAsync(buffer, cancellationToken));

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        private int Count(int read)
        {
            _read += read;
            if (_read > cap) throw new BadHttpRequestException($"The request body is larger than {cap} bytes.", StatusCodes.Status413PayloadTooLarge);
            return read;
        }

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
