namespace Pantheon.Domain.Keys;

/// <summary>One provider key, rebuilt from its stream.</summary>
public sealed partial class ProviderKey
{
    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Hint { get; set; } = "";
    public string Ciphertext { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
    public int Version { get; set; }

    public static ProviderKey Create(KeyAdded e) => new()
    {
        Id = e.KeyId, UserId = e.UserId, Name = e.Name, Provider = e.Provider, Hint = e.Hint, Ciphertext = e.Ciphertext, CreatedAt = e.At,
    };

    public void Apply(KeyRevoked e) => RevokedAt = e.At;

    public bool IsActiveFor(string userId) => UserId == userId && RevokedAt is null;
}

public static class KeyDecider
{
    /// <summary>The last four characters of a key: enough to tell keys apart, too little to use.</summary>
    public static string HintOf(string key) => key.Length <= 4 ? new string('*', key.Length) : key[^4..];

    /// <summary>Revokes an active key of the caller; anything else is not theirs to revoke.</summary>
    public static object[] Revoke(ProviderKey? key, string userId, DateTimeOffset now) =>
        key is not null && key.IsActiveFor(userId) ? [new KeyRevoked(key.Id, userId, now)] : [];
}
