using System.Security.Claims;
using FluentValidation;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Handlers.Chat;
using Pantheon.Web.Auth;
using Pantheon.Web.OpenApi;
using Wolverine.Http;

namespace Pantheon.Web.Chat;

/// <summary><c>POST /api/chat/approvals/{call_id}</c>: the owner approves (<c>true</c>) or refuses a tool call held for approval.</summary>
public sealed record AnswerApproval(bool? Approve)
{
    public sealed class Validator : AbstractValidator<AnswerApproval>
    {
        public Validator() => RuleFor(x => x.Approve).NotNull().WithMessage("approve must be true or false.");
    }
}

public sealed record ApprovalAnswered(Guid CallId, bool Approved);

public static class AnswerApprovalEndpoint
{
    /// <summary>
    /// Any backend process may answer: the turn waiting for it hears of it through PostgreSQL. Another user's call is a 404,
    /// like one that never existed; an approval already answered or expired is a 409.
    /// </summary>
    [WolverinePost("/api/chat/approvals/{call_id}", OperationId = "AnswerToolApproval")]
    [ProducesResponseType<ApprovalAnswered>(StatusCodes.Status200OK)]
    [ProducesProblems(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict)]
    public static async Task<IResult> Post(Guid call_id, AnswerApproval command, ClaimsPrincipal principal, ToolApprovals approvals,
        CancellationToken ct) =>
        await approvals.AnswerAsync(call_id, principal.UserId(), command.Approve!.Value, ct) switch
        {
            ApprovalAnswerResult.Answered => Results.Json(new ApprovalAnswered(call_id, command.Approve.Value)),
            ApprovalAnswerResult.AlreadyEnded => Results.Problem(statusCode: 409, title: "The approval has ended",
                detail: "This tool call was already approved, refused or expired."),
            _ => Results.Problem(Infrastructure.Problems.NotFound("The tool call")),
        };
}
