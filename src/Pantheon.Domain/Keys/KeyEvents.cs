namespace Pantheon.Domain.Keys;

/// <summary>
/// A provider key was added. <see cref="Ciphertext"/> is the key sealed with a per-key data key that lives
/// outside the event log; once that data key is destroyed on revocation, this event can never be decrypted.
/// </summary>
public sealed record KeyAdded(Guid KeyId, string UserId, string Name, string Provider, string Hint, string Ciphertext, DateTimeOffset At);

/// <summary>A provider key was revoked; its data key is destroyed with it.</summary>
public sealed record KeyRevoked(Guid KeyId, string UserId, DateTimeOffset At);
