namespace Pantheon.Handlers.Chat;

/// <summary>
/// A provider answered with an error status. Carries the status and the provider's own message so the caller can
/// show the user what went wrong, and Retry-After so a rate limit can be reported with its wait.
/// </summary>
public sealed class ProviderHttpException(int status, string message, TimeSpan? retryAfter) : Exception(message)
{
    public int Status { get; } = status;
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
