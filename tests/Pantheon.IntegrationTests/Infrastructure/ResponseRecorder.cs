using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>One <c>/api</c> answer a test host gave, as the client received it.</summary>
/// <param name="Route">The matched endpoint's route pattern (<c>/api/projects/{id}</c>); null when no endpoint matched.</param>
/// <param name="Aborted">The client left before the answer was complete (a cancelled stream): its body is partial.</param>
public sealed record RecordedResponse(
    string Method, string Path, string? Route, int Status, string? ContentType, byte[] Body, bool Truncated, bool Aborted)
{
    public override string ToString() => $"{Method} {Path} -> {Status} {ContentType}";
}

/// <summary>
/// Records every <c>/api</c> response of every test host (see <see cref="AppFixture.StartAsync"/>), so that
/// <see cref="OpenApiContract"/> can hold each one against what the OpenAPI document declares: new routes and new
/// tests are covered without a list of them. The body passes through as it is written, so streams still stream.
/// </summary>
public static class ResponseRecorder
{
    /// <summary>Bodies are kept up to this size; a longer one is marked truncated and its schema is not checked.</summary>
    public const int MaxBodyBytes = 4 * 1024 * 1024;

    private static readonly ConcurrentQueue<RecordedResponse> Recorded = new();

    public static IReadOnlyList<RecordedResponse> All => Recorded.ToArray();

    public static async Task Record(HttpContext context, Func<Task> next)
    {
        if (!context.Request.Path.StartsWithSegments("/api", StringComparison.Ordinal))
        {
            await next();
            return;
        }
        var original = context.Response.Body;
        var copy = new TeeStream(original);
        context.Response.Body = copy;
        try
        {
            await next();
        }
        finally
        {
            context.Response.Body = original;
            // The exception handler clears the endpoint before it writes the 500: its feature keeps the one that failed.
            var endpoint = context.GetEndpoint() ?? context.Features.Get<IExceptionHandlerFeature>()?.Endpoint;
            var route = (endpoint as RouteEndpoint)?.RoutePattern.RawText;
            Recorded.Enqueue(new RecordedResponse(context.Request.Method, context.Request.Path + context.Request.QueryString,
                route is null ? null : "/" + route.TrimStart('/'), context.Response.StatusCode, context.Response.ContentType,
                copy.Captured, copy.Truncated, context.RequestAborted.IsCancellationRequested));
        }
    }

    /// <summary>Puts the recorder in front of the whole pipeline, so it sees the status and body the client gets.</summary>
    public sealed class StartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) => Record(context, () => nextMiddleware(context)));
            next(app);
        };
    }

    private sealed class TeeStream(Stream inner) : Stream
    {
        private readonly MemoryStream _copy = new();

        public byte[] Captured => _copy.ToArray();
        public bool Truncated { get; private set; }

        private void Keep(ReadOnlySpan<byte> bytes)
        {
            if (_copy.Length + bytes.Length > MaxBodyBytes) Truncated = true;
            else _copy.Write(bytes);
        }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Keep(buffer.AsSpan(offset, count));
            inner.Write(buffer, offset, count);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Keep(buffer.Span);
            return inner.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => inner.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
