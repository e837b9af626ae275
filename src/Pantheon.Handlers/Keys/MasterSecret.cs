using System.Text;

namespace Pantheon.Handlers.Keys;

/// <summary>
/// <c>MCP_MASTER_SECRET</c>: the root of provider-key encryption and of the per-project MCP secrets.
/// Outside Development it must be set, at least <see cref="MinimumLength"/> characters, and not the development
/// fallback; Development alone falls back to a fixed, clearly non-secret value.
/// </summary>
public sealed class MasterSecret
{
    public const int MinimumLength = 32;
    public const string ConfigurationKey = "MCP_MASTER_SECRET";
    public const string DevelopmentFallback = "pantheon-development-master-secret-not-for-production";

    public byte[] Bytes { get; }
    public bool IsDevelopmentFallback { get; }

    private MasterSecret(string value, bool fallback)
    {
        Bytes = Encoding.UTF8.GetBytes(value);
        IsDevelopmentFallback = fallback;
    }

    public static MasterSecret From(string? configured, bool isDevelopment)
    {
        if (string.IsNullOrEmpty(configured))
            return isDevelopment
                ? new MasterSecret(DevelopmentFallback, fallback: true)
                : throw new InvalidOperationException(
                    $"{ConfigurationKey} is not set. Outside Development it must be a random secret of at least "
                    + $"{MinimumLength} characters.");
        if (configured.Length < MinimumLength)
            throw new InvalidOperationException(
                $"{ConfigurationKey} is too short ({configured.Length} characters): it must be at least {MinimumLength}.");
        // The fallback is public (it is in this file): as a configured value it would protect nothing.
        if (configured == DevelopmentFallback && !isDevelopment)
            throw new InvalidOperationException($"{ConfigurationKey} is the public development fallback, which only Development accepts.");
        return new MasterSecret(configured, fallback: configured == DevelopmentFallback);
    }
}
