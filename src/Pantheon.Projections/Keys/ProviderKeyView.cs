using Marten.Events.Aggregation;
using Pantheon.Domain.Keys;

namespace Pantheon.Projections.Keys;

/// <summary>What the API lists of a provider key: never the key, never its ciphertext.</summary>
public sealed class ProviderKeyView
{
    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string Name { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Hint { get; set; } = "";
    public DateTimeOffset CreatedAt { get; set; }
}

/// <summary>Inline, so a key is listed the moment it is added and gone the moment it is revoked.</summary>
public sealed partial class ProviderKeyViewProjection : SingleStreamProjection<ProviderKeyView, Guid>
{
    public ProviderKeyView Create(KeyAdded e) => new()
    {
        Id = e.KeyId, UserId = e.UserId, Name = e.Name, Provider = e.Provider, Hint = e.Hint, CreatedAt = e.At,
    };

    public bool ShouldDelete(KeyRevoked e) => true;
}
