using Microsoft.AspNetCore.Mvc;

namespace Pantheon.Web.Infrastructure;

/// <summary>RFC 7807 answers written outside an endpoint (middleware, exception handler).</summary>
public static class Problems
{
    public static Task Write(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ProblemDetails
        {
            Status = status, Title = title, Detail = detail, Instance = context.Request.Path,
        }, options: null, contentType: "application/problem+json");
    }

    public static ProblemDetails NotFound(string what) => new()
    {
        Status = StatusCodes.Status404NotFound, Title = "Not found", Detail = $"{what} does not exist.",
    };
}
