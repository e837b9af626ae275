using Pantheon.Handlers.Infrastructure;
using Pantheon.Web.Auth;
using Pantheon.Web.Limits;

namespace Pantheon.Web.Live;

/// <summary>The <c>Live</c> section.</summary>
public sealed class LiveSettings
{
    public const string Section = "Live";

    /// <summary>Messages one client may fall behind before its socket is closed.</summary>
    public int BufferSize { get; set; } = 256;

    /// <summary>How often an idle socket is pinged.</summary>
    public int KeepAliveSeconds { get; set; } = 20;

    /// <summary>How often the hub reads the event log even without a notification (one may have been lost).</summary>
    public int CatchUpSeconds { get; set; } = 2;

    /// <summary>
    /// The longest the hub waits at a missing sequence number whose writer may still commit (it holds back the updates after
    /// it meanwhile); past it the number is passed. Numbers whose writers have ended are passed at once.
    /// </summary>
    public int GapTimeoutSeconds { get; set; } = 5;
}

public static class LiveEndpoint
{
    public static IServiceCollection AddLiveUpdates(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection(LiveSettings.Section).Get<LiveSettings>() ?? new LiveSettings());
        services.AddSingleton<LiveUpdates>();
        services.AddSingleton<INotificationListener>(s => s.GetRequiredService<LiveUpdates>());
        services.AddHostedService(s => s.GetRequiredService<LiveUpdates>());
        return services;
    }

    /// <summary><c>GET /ws</c>: a WebSocket of the caller's project updates; the token may come as <c>access_token</c>.</summary>
    public static void MapLiveUpdates(this WebApplication app)
    {
        var settings = app.Services.GetRequiredService<LiveSettings>();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(settings.KeepAliveSeconds) });
        app.Map("/ws", async (HttpContext context, LiveUpdates hub, UserLimits limits) =>
        {
            var userId = context.User.UserId();
            if (!hub.TryReserve(userId, limits.WebSocketsPerUser))
                return Results.Problem(LimitProblems.CapReached("Limits:WebSocketsPerUser", limits.WebSocketsPerUser,
                    "Open WebSockets per user", StatusCodes.Status429TooManyRequests));
            try
            {
                if (!context.WebSockets.IsWebSocketRequest)
                    return Results.Problem(statusCode: 400, title: "Not a WebSocket request", detail: "GET /ws upgrades to a WebSocket.");
                using var socket = await context.WebSockets.AcceptWebSocketAsync();
                var live = new LiveSocket(socket, userId, settings.BufferSize, TokenRules.ExpiresAt(context.User));
                hub.Add(live);
                try
                {
                    await live.RunAsync(context.RequestAborted);
                }
                finally
                {
                    hub.Remove(live);
                }
            }
            finally
            {
                hub.Release(userId);
            }
            return Results.Empty;
        }).RequireAuthorization().ExcludeFromDescription();
    }
}
