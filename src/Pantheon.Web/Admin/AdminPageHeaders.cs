namespace Pantheon.Web.Admin;

/// <summary>
/// The operations page under <c>/admin/</c> handles an operator's token: it runs only its own script and style, talks
/// only to this origin (HTTP and its WebSocket), may not be framed (clickjacking), and sends no referrer.
/// </summary>
public static class AdminPageHeaders
{
    public const string PathPrefix = "/admin";

    public static IApplicationBuilder UseAdminPageHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        if (context.Request.Path.StartsWithSegments(PathPrefix))
        {
            var host = context.Request.Host.Value;
            context.Response.OnStarting(() =>
            {
                var headers = context.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy(host);
                headers["Referrer-Policy"] = "no-referrer";
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY"; // frame-ancestors for browsers that predate it
                return Task.CompletedTask;
            });
        }
        return next(context);
    });

    /// <summary>
    /// 'self' covers the page's own ws:/wss: only in CSP level 3 browsers, so the socket's origin is named as well.
    /// </summary>
    public static string ContentSecurityPolicy(string? host) =>
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + $"connect-src 'self'{(string.IsNullOrEmpty(host) ? "" : $" ws://{host} wss://{host}")}; "
        + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
}
