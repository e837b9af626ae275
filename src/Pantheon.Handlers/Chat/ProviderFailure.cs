using System.ClientModel;
using System.Globalization;

namespace Pantheon.Handlers.Chat;

/// <summary>A provider call that did not give a reply, as the API reports it: never a 500.</summary>
public sealed record ProviderFailure(
    int Status, int? ProviderStatus, string Message, TimeSpan? RetryAfter, string? Limit = null, string Title = ProviderFailure.NoReply)
{
    public const string NoReply = "The provider did not reply";

    /// <summary>
    /// The turn's message did not commit (its commit overlaps the call, which is then cancelled): a 503, since nothing
    /// was kept. The database's own words stay in the log.
    /// </summary>
    public static ProviderFailure NotRecorded() =>
        new(503, null, "The message could not be recorded, so the provider call was cancelled; send it again.", null, null,
            "The message was not recorded");

    /// <summary>A limit of ours ran out before the provider finished: a 504 naming the setting.</summary>
    public static ProviderFailure TimedOut(string provider, string what, string limit, int seconds) =>
        new(504, null, $"{provider} {what} within {seconds} s ({limit}).", null, limit);

    /// <summary>The provider answered 200 with something that is not its API's JSON or server-sent events.</summary>
    public static ProviderFailure Malformed(string provider, string reason) =>
        new(502, null, $"{provider} sent a reply that is not valid JSON or SSE: {reason}", null);

    /// <summary>Maps what the provider clients throw; null for anything that is not a provider's failure.</summary>
    public static ProviderFailure? From(Exception e, string provider, bool timedOut)
    {
        if (timedOut) return new ProviderFailure(504, null, $"{provider} did not answer in time.", null);
        if (Refused(e)) return new ProviderFailure(502, null, $"{provider}: {Domain.Chat.DestinationPolicy.NotAllowed}.", null);
        var (status, message, retryAfter) = e switch
        {
            ProviderHttpException p => ((int?)p.Status, p.Message, p.RetryAfter),
            ClientResultException c => (c.Status == 0 ? null : c.Status, c.Message, RetryAfterOf(c)),
            HttpRequestException h => ((int?)h.StatusCode, h.Message, null),
            _ => (null, null, (TimeSpan?)null),
        };
        if (message is null && IsMalformed(e)) return Malformed(provider, e.Message);
        if (message is null) return null;
        return status switch
        {
            401 or 403 => new ProviderFailure(502, status, $"{provider} refused the API key: {message}", null),
            429 => new ProviderFailure(429, status, $"{provider} is rate limiting: {message}", retryAfter),
            // The socket's own words (addresses, "connection refused") would make chat a port scanner: none go out.
            null => new ProviderFailure(502, null, $"{provider} could not be reached.", null),
            _ => new ProviderFailure(502, status, $"{provider} answered {status}: {message}", null),
        };
    }

    /// <summary>What the SDKs throw on a body or event they cannot parse, however deep they wrap it.</summary>
    private static bool IsMalformed(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is System.Text.Json.JsonException or FormatException or InvalidDataException) return true;
        return false;
    }

    private static bool Refused(Exception e)
    {
        for (Exception? current = e; current is not null; current = current.InnerException)
            if (current is DestinationNotAllowedException) return true;
        return false;
    }

    private static TimeSpan? RetryAfterOf(ClientResultException e)
    {
        var response = e.GetRawResponse();
        if (response is null || !response.Headers.TryGetValue("Retry-After", out var value) || value is null) return null;
        if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seconds)) return TimeSpan.FromSeconds(seconds);
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at - DateTimeOffset.UtcNow : null;
    }
}
