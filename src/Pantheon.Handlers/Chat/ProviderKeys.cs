using Microsoft.Extensions.Configuration;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Keys;

namespace Pantheon.Handlers.Chat;

/// <summary>A key to call a provider with; <see cref="KeyId"/> is null for the system's key.</summary>
public sealed record ResolvedKey(string Secret, Guid? KeyId);

/// <summary>Finds the key for a call: the user's newest unrevoked key for the provider, else the system's.</summary>
public sealed class ProviderKeys(IProviderKeyCipher cipher, IConfiguration configuration)
{
    private static readonly Dictionary<string, string> SystemKeyNames = new()
    {
        [Providers.OpenRouter] = "OPENROUTER_API_KEY", [Providers.Gemini] = "GEMINI_API_KEY",
        [Providers.OpenAI] = "OPENAI_API_KEY", [Providers.Anthropic] = "ANTHROPIC_API_KEY",
    };

    /// <summary>The user's newest unrevoked key for the provider, else the system's; from the user's keys read up front.</summary>
    public ResolvedKey? ForProvider(UserKeys user, string provider)
    {
        var newest = user.Keys.Where(k => k.Provider == provider).OrderByDescending(k => k.CreatedAt)
            .Select(k => Open(user, k.Id)).FirstOrDefault(k => k is not null);
        return newest ?? (SystemKey(provider) is { } system ? new ResolvedKey(system, null) : null);
    }

    /// <summary>A user's key by id (a custom model's key reference); null when it is not theirs or revoked.</summary>
    public ResolvedKey? ById(UserKeys user, Guid keyId) => Open(user, keyId);

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
