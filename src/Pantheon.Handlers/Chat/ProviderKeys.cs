using Microsoft.Extensions.Configuration;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Keys;

namespace Pantheon.Handlers.Chat;

/// <summary>A key to call a provider with; <see cref="KeyId"/> is null for the system's key.</summary>
public sealed record ResolvedKey(string Secret, Guid? KeyId);

/// <summary>Opens the key a turn chose (<see cref="Pantheon.Domain.Chat.TurnDecider"/> picks): the user's, else the system's.</summary>
public sealed class ProviderKeys(IProviderKeyCipher cipher, IConfiguration configuration)
{
    private static readonly Dictionary<string, string> SystemKeyNames = new()
    {
        [Providers.OpenRouter] = "OPENROUTER_API_KEY", [Providers.Gemini] = "GEMINI_API_KEY",
        [Providers.OpenAI] = "OPENAI_API_KEY", [Providers.Anthropic] = "ANTHROPIC_API_KEY",
    };

    public bool HasSystemKey(string provider) => SystemKey(provider) is not null;

    /// <summary>The providers that have a system-wide key configured.</summary>
    public IReadOnlySet<string> ProvidersWithSystemKey =>
        SystemKeyNames.Keys.Where(HasSystemKey).ToHashSet();

    /// <summary>The key a turn's target names: the user's key by id, else the system's for a provider, else none.</summary>
    public ResolvedKey? ForTarget(UserKeys user, Pantheon.Domain.Chat.TurnTarget target) =>
        target.KeyId is { } id ? Open(user, id)
        : target.Endpoint is null && SystemKey(target.Provider) is { } system ? new ResolvedKey(system, null)
        : null;

    private string? SystemKey(string provider) =>
        SystemKeyNames.TryGetValue(provider, out var name) && configuration[name] is { Length: > 0 } key ? key : null;

    private ResolvedKey? Open(UserKeys user, Guid keyId) =>
        user.Secrets.FirstOrDefault(s => s.Id == keyId) is { } secret // gone once revoked: its data key is destroyed
            ? new ResolvedKey(cipher.Open(user.UserId, keyId, secret.Ciphertext, secret.WrappedDataKey), keyId)
            : null;
}

/// <summary>A user's key views and secrets, read in one batch with the rest of a chat's reads.</summary>
public sealed record UserKeys(string UserId, IReadOnlyList<ProviderKeyView> Keys, IReadOnlyList<ProviderKeySecret> Secrets);
