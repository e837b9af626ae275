using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using Wolverine.Http;

namespace Pantheon.Web.Limits;

/// <summary>
/// Rate limits per user on <c>/api</c>, a stricter bucket for <c>POST /api/chat</c> and <c>POST /api/projects</c>, the
/// concurrent-chat cap, and the caps' settings. Limiters live in this process: N backend processes allow N times as much.
/// </summary>
public static class LimitsConfiguration
{
    public const string ChatPolicy = "chat", ProjectsPolicy = "projects";

    public static IServiceCollection AddPantheonLimits(this IServiceCollection services, IConfiguration configuration)
    {
        var limits = configuration.GetSection(UserLimits.Section).Get<UserLimits>() ?? new UserLimits();
        var rates = configuration.GetSection(RateLimitSettings.Section).Get<RateLimitSettings>() ?? new RateLimitSettings();
        services.AddSingleton(limits);
        services.AddSingleton(rates);
        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                context.Request.Path.StartsWithSegments("/api") && Subject(context) is { } sub
                    ? RateLimitPartition.GetTokenBucketLimiter(sub, _ => rates.Api.Options())
                    : RateLimitPartition.GetNoLimiter(""));
            o.OnRejected = (context, _) => RateLimited(context, "RateLimits:Api", rates.Api);
            o.AddPolicy(ChatPolicy, new ChatPolicyLimiter(rates.Chat, limits.ConcurrentChatsPerUser));
            o.AddPolicy(ProjectsPolicy, new BucketPolicy("RateLimits:Projects", rates.Projects));
        });
        return services;
    }

    /// <summary>After authentication: the partitions are the token's <c>sub</c>.</summary>
    public static WebApplication UsePantheonRateLimits(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }

    /// <summary>Puts the stricter policies on their endpoints, from outside them (<c>ConfigureEndpoints</c>).</summary>
    public static void ApplyRateLimitPolicies(HttpChain chain)
    {
        if (!chain.HttpMethods.Contains("POST")) return;
        switch (chain.RoutePattern?.RawText)
        {
            case "/api/chat":
                chain.Metadata.RequireRateLimiting(ChatPolicy);
                break;
            case "/api/projects":
                chain.Metadata.RequireRateLimiting(ProjectsPolicy);
                break;
        }
    }

    private static string? Subject(HttpContext context) => context.User.FindFirstValue("sub");

    private static ValueTask RateLimited(OnRejectedContext context, string setting, TokenBucket bucket)
    {
        TimeSpan? retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var r) ? r : null;
        if (retryAfter is { } wait)
            context.HttpContext.Response.Headers.RetryAfter = ((int)Math.Ceiling(Math.Max(wait.TotalSeconds, 1))).ToString();
        return Write(context.HttpContext, LimitProblems.RateLimited(setting, bucket, retryAfter));
    }

    private static ValueTask Write(HttpContext context, ProblemDetails problem)
    {
        context.Response.StatusCode = problem.Status!.Value;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
    }

    /// <summary>One token bucket per user.</summary>
    private sealed class BucketPolicy(string setting, TokenBucket bucket) : IRateLimiterPolicy<string>
    {
        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => (context, _) => RateLimited(context, setting, bucket);

        public RateLimitPartition<string> GetPartition(HttpContext context) => Subject(context) is { } sub
            ? RateLimitPartition.GetTokenBucketLimiter(sub, _ => bucket.Options())
            : RateLimitPartition.GetNoLimiter("");
    }

    /// <summary>
    /// Per user, the chats in flight (held for the whole request, a streamed reply included), then the chat bucket: a
    /// refused chat takes no token, and a chat the bucket refuses gives its place back.
    /// </summary>
    private sealed class ChatPolicyLimiter(TokenBucket bucket, int concurrent) : IRateLimiterPolicy<string>
    {
        public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected => (context, _) =>
            context.Lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan _)
                ? RateLimited(context, "RateLimits:Chat", bucket)
                : Write(context.HttpContext, LimitProblems.CapReached("Limits:ConcurrentChatsPerUser", concurrent,
                    "Chats in flight at once for one user", StatusCodes.Status429TooManyRequests));

        public RateLimitPartition<string> GetPartition(HttpContext context) => Subject(context) is { } sub
            ? ChatPartition(sub, bucket, concurrent)
            : RateLimitPartition.GetNoLimiter("");
    }

    /// <summary>A user's chat partition: their chats in flight, then their chat bucket (<see cref="ChatLimiter"/>).</summary>
    internal static RateLimitPartition<string> ChatPartition(string sub, TokenBucket bucket, int concurrent) =>
        RateLimitPartition.Get(sub, _ => new ChatLimiter(concurrent, bucket.Options()));
}
