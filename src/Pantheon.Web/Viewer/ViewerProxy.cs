using System.Net;
using System.Security.Claims;
using Marten;
using Microsoft.AspNetCore.Http.Extensions;
using Pantheon.Domain.Viewer;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Viewer;
using Pantheon.Projections.Projects;
using Pantheon.Web.Infrastructure;
using Yarp.ReverseProxy.Forwarder;

namespace Pantheon.Web.Viewer;

/// <summary>
/// <c>/api/projects/{id}/viewer/...</c>: the VM's web viewer (HTTP and its WebSocket), proxied to the VM's address on the
/// project network. The project network publishes nothing; the backend reaches it through the bridge's host address
/// (on the host) or its own address <c>.3</c> on the network (in a container). A request opens a session with a ticket
/// (which is taken, then answered with a cookie and a redirect to the same URL without it), or continues one with the cookie.
/// </summary>
public sealed class ViewerProxy(IHttpForwarder forwarder, ViewerTickets tickets, ViewerSessions sessions, ViewerSettings settings,
    VmSettings vm, TimeProvider time, ILogger<ViewerProxy> logger) : IDisposable
{
    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler
    {
        // The VM is on a project network: no proxy, no cookies of ours, nothing followed or decoded on its behalf.
        UseProxy = false, AllowAutoRedirect = false, AutomaticDecompression = DecompressionMethods.None, UseCookies = false,
        ActivityHeadersPropagator = null, ConnectTimeout = TimeSpan.FromSeconds(10),
    });

    private readonly ForwarderRequestConfig _config = new() { ActivityTimeout = TimeSpan.FromSeconds(settings.IdleTimeoutSeconds) };

    public async Task InvokeAsync(HttpContext context, Guid projectId, string rest)
    {
        // The session cookie is scoped to the root with its slash: without it, the browser would not send the cookie.
        if (rest.Length == 0)
        {
            context.Response.Redirect(ViewerPaths.Root(projectId) + context.Request.QueryString, permanent: true, preserveMethod: true);
            return;
        }
        var now = time.GetUtcNow();
        var bearer = context.User.FindFirstValue("sub");
        var ct = context.RequestAborted;

        if (context.Request.Query.TryGetValue(ViewerPaths.TicketParameter, out var ticket))
        {
            var grant = await tickets.TakeAsync(ticket.ToString(), ct);
            var refused = ViewerAccess.Redeem(grant, projectId, bearer, now);
            if (refused != ViewerRefusal.None)
            {
                await Refuse(context, refused);
                return;
            }
            if (await FindViewableAsync(context, projectId, grant!.UserId) is null) return;
            OpenSession(context, new ViewerSession(grant.UserId, projectId, now.AddMinutes(settings.SessionMinutes)));
            return;
        }

        var session = sessions.Open(context.Request.Cookies[ViewerSessions.CookieName]);
        var refusal = ViewerAccess.Continue(session, projectId, bearer, now);
        if (refusal != ViewerRefusal.None)
        {
            await Refuse(context, refusal);
            return;
        }
        if (await FindViewableAsync(context, projectId, session!.UserId) is not { VmAddress: { } address }) return;
        // Every request of an open viewer is activity (no idle stop), and so is every minute its WebSocket stays open.
        var activity = context.RequestServices.GetRequiredService<ProjectActivity>();
        await activity.TouchAsync(projectId, ct);
        using var open = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var touching = context.WebSockets.IsWebSocketRequest ? TouchWhileOpenAsync(activity, projectId, open.Token) : Task.CompletedTask;
        try
        {
            await ForwardAsync(context, $"http://{address}:{vm.ViewerPort}", rest);
        }
        finally
        {
            await open.CancelAsync();
            await touching;
        }
    }

    private static async Task TouchWhileOpenAsync(ProjectActivity activity, Guid projectId, CancellationToken closed)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMinutes(1));
        try
        {
            while (await timer.WaitForNextTickAsync(closed)) await activity.TouchAsync(projectId, closed);
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested)
        {
            // the connection closed: nothing more to keep alive
        }
    }

    /// <summary>The session starts here: its cookie, and the same URL again without the ticket, so a reload needs none.</summary>
    private void OpenSession(HttpContext context, ViewerSession session)
    {
        context.Response.Cookies.Append(ViewerSessions.CookieName, sessions.Seal(session), new CookieOptions
        {
            Path = ViewerPaths.Root(session.ProjectId), HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps,
            Expires = session.ExpiresAt,
        });
        var query = new QueryBuilder(context.Request.Query.Where(q => q.Key != ViewerPaths.TicketParameter)
            .SelectMany(q => q.Value.Select(v => new KeyValuePair<string, string>(q.Key, v ?? ""))));
        context.Response.StatusCode = StatusCodes.Status303SeeOther;
        context.Response.Headers.Location = context.Request.PathBase + context.Request.Path + query.ToQueryString();
        context.Response.Headers.CacheControl = "no-store";
    }

    /// <summary>The user's project with a running VM; otherwise the answer (404, 409) is written and null returned.</summary>
    private static async Task<ProjectView?> FindViewableAsync(HttpContext context, Guid projectId, string userId)
    {
        // The viewer's user is the ticket's or the session cookie's, not a bearer token's: the proxy acts for that user.
        await using var session = await context.RequestServices.GetRequiredService<ActorSessions>()
            .ForAsync(new DatabaseActor.User(userId), context.RequestAborted);
        var project = await session.LoadAsync<ProjectView>(projectId, context.RequestAborted);
        if (project is null || project.OwnerId != userId)
        {
            await Problems.Write(context, StatusCodes.Status404NotFound, "Not found", "The project does not exist.");
            return null;
        }
        if (!ViewerAccess.HasViewer(project.Status) || project.VmAddress is null)
        {
            await Problems.Write(context, StatusCodes.Status409Conflict, "The project's VM is not running.",
                ViewerAccess.NotRunning(project.Status));
            return null;
        }
        return project;
    }

    private async Task ForwardAsync(HttpContext context, string destination, string rest)
    {
        var error = await forwarder.SendAsync(context, destination, _client, _config, new Transformer(rest));
        if (error == ForwarderError.None) return;
        var failure = context.GetForwarderErrorFeature()?.Exception;
        logger.LogWarning(failure, "Viewer proxy to {Destination}{Path} failed: {Error}", destination, rest, error);
        if (!context.Response.HasStarted)
            await Problems.Write(context, StatusCodes.Status502BadGateway, "The VM's viewer could not be reached.",
                $"The viewer of the project's VM did not answer ({error}).");
    }

    private static Task Refuse(HttpContext context, ViewerRefusal refusal) =>
        Problems.Write(context, StatusCodes.Status401Unauthorized, "The viewer needs a valid ticket.", ViewerAccess.Explain(refusal));

    public void Dispose() => _client.Dispose();

    /// <summary>The VM sees its own path, and neither our cookie nor a bearer token.</summary>
    private sealed class Transformer(string rest) : HttpTransformer
    {
        public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest,
            string destinationPrefix, CancellationToken cancellationToken)
        {
            await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
            proxyRequest.RequestUri = RequestUtilities.MakeDestinationAddress(destinationPrefix, rest, httpContext.Request.QueryString);
            proxyRequest.Headers.Authorization = null;
            proxyRequest.Headers.Remove("Cookie");
            var others = httpContext.Request.Cookies.Where(c => c.Key != ViewerSessions.CookieName)
                .Select(c => $"{c.Key}={c.Value}").ToList();
            if (others.Count > 0) proxyRequest.Headers.TryAddWithoutValidation("Cookie", string.Join("; ", others));
        }
    }
}

public static class ViewerProxyConfiguration
{
    public static IServiceCollection AddViewerProxy(this IServiceCollection services)
    {
        services.AddHttpForwarder();
        services.AddSingleton<ViewerProxy>();
        return services;
    }

    /// <summary>After authentication (a bearer token of another user is refused), ahead of the endpoints.</summary>
    public static IApplicationBuilder UseViewerProxy(this IApplicationBuilder app) => app.Use((context, next) =>
        ViewerPaths.TryParse(context.Request.Path, out var projectId, out var rest)
            ? context.RequestServices.GetRequiredService<ViewerProxy>().InvokeAsync(context, projectId, rest)
            : next(context));
}
