using System.Security.Claims;
using Marten;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Users;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.OpenApi;
using Microsoft.AspNetCore.Mvc;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

public sealed record ChatTurnResponse(Guid MessageId, string Role, string Content, string Model, DateTimeOffset At, string Status);

public sealed record ChatHistoryResponse(Guid ConversationId, Guid? ProjectId, IReadOnlyList<ChatTurnResponse> Turns);

public static class GetChatHistoryEndpoint
{
    [WolverineGet("/api/chat/history", OperationId = "GetChatHistory")]
    [ProducesResponseType<ChatHistoryResponse>(StatusCodes.Status200OK)]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static async Task<IResult> Get(Guid? project_id, ClaimsPrincipal principal, IQuerySession session, CancellationToken ct)
    {
        var userId = principal.UserId();
        if (!await ChatAccess.OwnsProject(session, userId, project_id, ct)) return Results.Problem(Problems.NotFound("The project"));
        var id = UserId.ConversationStreamFor(userId, project_id);
        var history = await session.LoadAsync<ChatHistory>(id, ct);
        var turns = (history?.Turns ?? []).Select(t => new ChatTurnResponse(t.MessageId, t.Role == TurnRole.User ? "user" : "assistant",
            t.Content, t.Model, t.At, t.Status.ToString().ToLowerInvariant())).ToList();
        return Results.Json(new ChatHistoryResponse(id, project_id, turns));
    }
}

public static class ClearChatHistoryEndpoint
{
    [WolverineDelete("/api/chat/history", OperationId = "ClearChatHistory")]
    [ProducesResponseType(StatusCodes.Status204NoContent)]
    [ProducesProblems(StatusCodes.Status404NotFound)]
    public static async Task<IResult> Delete(Guid? project_id, ClaimsPrincipal principal, IDocumentSession session, TimeProvider time, CancellationToken ct)
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
