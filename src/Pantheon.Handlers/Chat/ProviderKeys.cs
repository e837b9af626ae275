using Marten;
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

    public async Task<ResolvedKey?> ForProviderAsync(IQuerySession session, string userId, string provider, CancellationToken ct)
    {
        var newest = await session.Query<ProviderKeyView>()
            .Where(k => k.UserId == userId && k.Provider == provider)
            .OrderByDescending(k => k.CreatedAt).FirstOrDefaultAsync(ct);
        if (newest is not null) return await OpenAsync(session, userId, newest.Id, ct);
        return SystemKey(provider) is { } system ? new ResolvedKey(system, null) : null;
    }

    /// <summary>A user's key by id (a custom model's key reference); null when it is not theirs or revoked.</summary>
    public async Task<ResolvedKey?> ByIdAsync(IQuerySession session, string userId, Guid keyId, CancellationToken ct)
    {
        var view = await session.LoadAsync<ProviderKeyView>(keyId, ct);
        return view is not null && view.UserId == userId ? await OpenAsync(session, userId, keyId, ct) : null;
    }

    public bool HasSystemKey(string provider) => SystemKey(provider) is not null;

    private string? SystemKey(string provider) =>
        SystemKeyNames.TryGetValue(provider, out var name) && configuration[name] is { Length: > 0 } key ? key : null;

    private async Task<ResolvedKey?> OpenAsync(IQuerySession session, string userId, Guid keyId, CancellationToken ct)
    {
        var secret = await session.LoadAsync<ProviderKeySecret>(keyId, ct);
        if (secret is null) return null; // revoked in between: its data key is gone
        var added = await session.Events.AggregateStreamAsync<Pantheon.Domain.Keys.ProviderKey>(keyId, token: ct);
        return added is null ? null : new ResolvedKey(cipher.Open(userId, keyId, added.Ciphertext, secret.WrappedDataKey), keyId);
    }
}
