namespace Pantheon.Web.Chat;

/// <summary>
/// Wolverine answers 406 to a JSON-bodied request whose <c>Accept</c> does not take JSON, but a client asking for
/// server-sent events sends <c>Accept: text/event-stream</c> alone. This notes the wish for a stream and lets JSON
/// through, so the endpoint can still answer an error as problem JSON.
/// </summary>
public static class EventStreamAccept
{
    private const string Key = "pantheon.event-stream";

    public static IApplicationBuilder UseEventStreamAccept(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        var accept = context.Request.Headers.Accept.ToString();
        if (accept.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            context.Items[Key] = true;
            context.Request.Headers.Accept = accept + ", application/problem+json;q=0.1, application/json;q=0.1";
        }
        return next(context);
    });

    public static bool WantsEventStream(this HttpContext context) => context.Items.ContainsKey(Key);
}
