namespace Pantheon.Handlers.Keys;

/// <summary>
/// The wrapped data key of one provider key: a document, not an event, because it must be destroyable.
/// Deleting it on revocation leaves the ciphertext in the event log undecryptable forever. It keeps a copy of the
/// ciphertext too, so that a chat opens a key with one read instead of replaying the key's stream.
/// </summary>
public sealed class ProviderKeySecret
{
    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string Ciphertext { get; set; } = "";
    public string WrappedDataKey { get; set; } = "";
}
