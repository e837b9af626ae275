using System.Text;

namespace Pantheon.Handlers.Keys;

/// <summary>
/// <c>MCP_MASTER_SECRET</c>: the root of provider-key encryption and of the per-project MCP secrets.
/// Production refuses to start without one of at least <see cref="MinimumLength"/> characters; development
/// and tests fall back to a fixed, clearly non-secret value.
/// </summary>
public sealed class MasterSecret
{
    public const int MinimumLength = 32;
    public const string ConfigurationKey = "MCP_MASTER_SECRET";
    internal const string DevelopmentFallback = "pantheon-development-master-secret-not-for-production";

    public byte[] Bytes { get; }
    public bool IsDevelopmentFallback { get; }

    private MasterSecret(string value, bool fallback)
    {
        Bytes = Encoding.UTF8.GetBytes(value);
        IsDevelopmentFallback = fallback;
    }

    public static MasterSecret From(string? configured, bool isProduction)
    {
        if (!string.IsNullOrEmpty(configured) && configured.Length >= MinimumLength)
            return new MasterSecret(configured, fallback: false);
        if (isProduction)
            throw new InvalidOperationException(string.IsNullOrEmpty(configured)
                ? $"{ConfigurationKey} is not set. Production needs a random secret of at least {MinimumLength} characters."
                : $"{ConfigurationKey} is too short ({configured.Length} characters). Production needs at least {MinimumLength}.");
        if (!string.IsNullOrEmpty(configured))
            throw new InvalidOperationException($"{ConfigurationKey} must be at least {MinimumLength} characters long.");
        return new MasterSecret(DevelopmentFallback, fallback: true);
    }
}
