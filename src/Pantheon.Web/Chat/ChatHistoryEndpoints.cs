using System.Security.Claims;
using Marten;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Users;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.OpenApi;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

public sealed record ChatTurnResponse(Guid MessageId, string Role, string Content, string Model, DateTimeOffset At, string Status);

/// <summary>A page of a conversation, oldest first; pass <see cref="NextAfter"/> as <c>after</c> for the next one.</summary>
public sealed record ChatHistoryResponse(Guid ConversationId, Guid? ProjectId, IReadOnlyList<ChatTurnResponse> Turns, long? NextAfter);

public static class GetChatHistoryEndpoint
{
    public const int DefaultLimit = 100, MaxLimit = 500;

    /// <summary>Cursor paging by the turn's position in the conversation, like <c>/api/audit</c>.</summary>
    [WolverineGet("/api/chat/history", OperationId = "GetChatHistory")]
    [ProducesResponseType<ChatHistoryResponse>(StatusCodes.Status200OK)]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static async Task<IResult> Get(Guid? project_id, long? after, int? limit, ClaimsPrincipal principal, IQuerySession session,
        CancellationToken ct)
    {
        var size = limit ?? DefaultLimit;
        if (size is < 1 or > MaxLimit)
            return Results.ValidationProblem(
                new Dictionary<string, string[]> { ["limit"] = [$"limit must be between 1 and {MaxLimit}."] });
        var userId = principal.UserId();
        if (!await ChatAccess.OwnsProject(session, userId, project_id, ct)) return Results.Problem(Problems.NotFound("The project"));
        var id = UserId.ConversationStreamFor(userId, project_id);
        var from = after ?? 0;
        var rows = await session.Query<ChatTurnView>().Where(t => t.ConversationId == id && t.Position > from)
            .OrderBy(t => t.Position).Take(size + 1).ToListAsync(ct);
        var page = rows.Take(size).ToList();
        var turns = page.Select(t => new ChatTurnResponse(t.MessageId, Role(t.Role),
            t.Content, t.Model, t.At, t.Status.ToString().ToLowerInvariant())).ToList();
        return Results.Json(new ChatHistoryResponse(id, project_id, turns, rows.Count > size ? page[^1].Position : null));
    }

    /// <summary><c>user</c>, <c>assistant</c>, and an agent turn's steps: <c>tool_call</c> (tool and arguments), <c>tool_result</c>.</summary>
    private static string Role(TurnRole role) => role switch
    {
        TurnRole.User => "user",
        TurnRole.ToolCall => "tool_call",
        TurnRole.ToolResult => "tool_result",
        _ => "assistant",
    };
}

public static class ClearChatHistoryEndpoint
{
    [WolverineDelete("/api/chat/history", OperationId = "ClearChatHistory")]
    [ProducesResponseType(StatusCodes.Status204NoContent)]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static async Task<IResult> Delete(
        Guid? project_id, ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken ct)
    {
        var userId = principal.UserId();
        if (!await ChatAccess.OwnsProject(session, userId, project_id, ct)) return Results.Problem(Problems.NotFound("The project"));
        var id = UserId.ConversationStreamFor(userId, project_id);
        session.Events.Append(id, new ChatCleared(id, userId, time.GetUtcNow()));
        return Results.NoContent();
    }
}

internal static class ChatAccess
{
    /// <summary>No project is the user's general conversation; a project must be the caller's.</summary>
    public static async Task<bool> OwnsProject(IQuerySession session, string userId, Guid? projectId, CancellationToken ct) =>
        projectId is null || (await session.LoadAsync<ProjectView>(projectId.Value, ct))?.OwnerId == userId;
}
