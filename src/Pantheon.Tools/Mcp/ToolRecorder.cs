using System.Diagnostics;
using Marten;
using ModelContextProtocol;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Tools;
using Pantheon.Tools.Projects;

namespace Pantheon.Tools.Mcp;

/// <summary>
/// Every tool call becomes <see cref="ToolCalled"/> before it runs and <see cref="ToolReturned"/> after, on the project's
/// stream, recorded as the project's owner (the audit's user) with the call's id as correlation id.
/// </summary>
public sealed class ToolRecorder(IDocumentStore store, TimeProvider time)
{
    public async ValueTask<CallToolResult> RecordAsync(RequestContext<CallToolRequestParams> context,
        McpRequestHandler<CallToolRequestParams, CallToolResult> next, HttpContext http, CancellationToken ct)
    {
        var project = ToolCallerContext.Get(http);
        var tool = context.Params?.Name ?? "";
        var callId = Guid.CreateVersion7();
        var arguments = ToolRules.RecordedArguments(context.Params?.Arguments?.ToDictionary());
        await AppendAsync(project, callId, new ToolCalled(project.Id, callId, tool, arguments, time.GetUtcNow()), ct);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var result = await next(context, ct);
            var text = string.Join(" ", result.Content.OfType<TextContentBlock>().Select(t => t.Text));
            await AppendAsync(project, callId, result.IsError == true
                ? new ToolReturned(project.Id, callId, tool, null, Shorten(text), Elapsed(started), time.GetUtcNow())
                : new ToolReturned(project.Id, callId, tool, Shorten(text), null, Elapsed(started), time.GetUtcNow()), ct);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            var error = e switch
            {
                McpException => e.Message,
                System.Text.Json.JsonException or ArgumentException => $"invalid arguments: {e.Message}",
                _ => $"internal error ({e.GetType().Name})",
            };
            await AppendAsync(project, callId, new ToolReturned(project.Id, callId, tool, null, error, Elapsed(started), time.GetUtcNow()),
                CancellationToken.None);
            throw;
        }
    }

    private async Task AppendAsync(ToolProject project, Guid callId, object e, CancellationToken ct)
    {
        await using var session = store.LightweightSession();
        session.CorrelationId = callId.ToString();
        session.LastModifiedBy = project.OwnerId;
        session.Events.Append(project.Id, e);
        await session.SaveChangesAsync(ct);
    }

    private static long Elapsed(long started) => (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    private static string Shorten(string text) => text.Length <= 500 ? text : text[..499] + "…";
}
