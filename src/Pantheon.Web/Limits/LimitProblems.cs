using Microsoft.AspNetCore.Mvc;

namespace Pantheon.Web.Limits;

/// <summary>The problem answers of limits: each names the setting that limits and its value.</summary>
public static class LimitProblems
{
    /// <summary>A per-user cap is reached: 409 (delete something first) or 429 (wait for one to finish).</summary>
    public static ProblemDetails CapReached(string setting, int value, string what, int status = StatusCodes.Status409Conflict) => new()
    {
        Status = status,
        Title = "Limit reached",
        Detail = $"{what}: at most {value} ({setting}).",
        Extensions = { ["limit"] = setting, ["value"] = value },
    };

    /// <summary>A rate limit: 429, with <c>Retry-After</c> set by the caller when the limiter knows it.</summary>
    public static ProblemDetails RateLimited(string setting, TokenBucket bucket, TimeSpan? retryAfter) => new()
    {
        Status = StatusCodes.Status429TooManyRequests,
        Title = "Too many requests",
        Detail = $"Rate limit {setting}: {bucket.TokenLimit} requests at once, "
            + $"then {bucket.TokensPerPeriod} every {bucket.PeriodSeconds} s."
            + (retryAfter is { } r ? $" Try again in {Math.Ceiling(r.TotalSeconds)} s." : ""),
        Extensions = { ["limit"] = setting, ["value"] = bucket.TokenLimit },
    };
}
