using System.Security.Cryptography;
using System.Text;

namespace Pantheon.Handlers.Keys;

/// <summary>A provider key sealed for storage: the ciphertext goes to the event log, the wrapped data key does not.</summary>
public sealed record SealedKey(string Ciphertext, string WrappedDataKey);

/// <summary>Seals provider keys at rest and opens them again for a provider call.</summary>
public interface IProviderKeyCipher
{
    SealedKey Seal(string userId, Guid keyId, string plaintext);

    /// <exception cref="CryptographicException">The data, the binding or the secret do not match.</exception>
    string Open(string userId, Guid keyId, string ciphertext, string wrappedDataKey);
}

/// <summary>
/// Envelope encryption with AES-256-GCM. Each key gets a random data key; the data key is wrapped by a key
/// derived with HKDF-SHA256 from <c>MCP_MASTER_SECRET</c>. Both layers bind the user id and the key id as
/// associated data, so a ciphertext moved to another user or key fails to open. Every blob starts with a
/// version prefix so the scheme can change without guessing what old blobs are.
/// </summary>
public sealed class ProviderKeyCipher : IProviderKeyCipher
{
    private const string Version = "v1";
    private const int NonceSize = 12, TagSize = 16, DataKeySize = 32;
    private readonly byte[] _wrappingKey;

    public ProviderKeyCipher(MasterSecret secret)
    {
        _wrappingKey = HKDF.DeriveKey(HashAlgorithmName.SHA256, secret.Bytes, 32,
            salt: Encoding.UTF8.GetBytes("pantheon"), info: Encoding.UTF8.GetBytes("pantheon/provider-key-wrap/v1"));
    }

    public SealedKey Seal(string userId, Guid keyId, string plaintext)
    {
        var dataKey = RandomNumberGenerator.GetBytes(DataKeySize);
        try
        {
            var associated = AssociatedData(userId, keyId);
            var ciphertext = Encrypt(dataKey, Encoding.UTF8.GetBytes(plaintext), associated);
            var wrapped = Encrypt(_wrappingKey, dataKey, associated);
            return new SealedKey(ciphertext, wrapped);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    public string Open(string userId, Guid keyId, string ciphertext, string wrappedDataKey)
    {
        var associated = AssociatedData(userId, keyId);
        var dataKey = Decrypt(_wrappingKey, wrappedDataKey, associated);
        try
        {
            return Encoding.UTF8.GetString(Decrypt(dataKey, ciphertext, associated));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(dataKey);
        }
    }

    private static byte[] AssociatedData(string userId, Guid keyId) =>
        Encoding.UTF8.GetBytes($"{Version}|{userId}|{keyId:N}");

    private static string Encrypt(byte[] key, byte[] plaintext, byte[] associated)
    {
        var blob = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = blob.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(key, TagSize);
        aes.Encrypt(nonce, plaintext, blob.AsSpan(NonceSize, plaintext.Length), blob.AsSpan(NonceSize + plaintext.Length), associated);
        return $"{Version}:{Convert.ToBase64String(blob)}";
    }

    private static byte[] Decrypt(byte[] key, string text, byte[] associated)
    {
        if (!text.StartsWith(Version + ":", StringComparison.Ordinal))
            throw new CryptographicException($"Unknown key envelope version in '{text[..Math.Min(3, text.Length)]}'.");
        var blob = Convert.FromBase64String(text[(Version.Length + 1)..]);
        if (blob.Length < NonceSize + TagSize) throw new CryptographicException("Key envelope is truncated.");
        var plaintext = new byte[blob.Length - NonceSize - TagSize];
        using var aes = new AesGcm(key, TagSize);
        aes.Decrypt(blob.AsSpan(0, NonceSize), blob.AsSpan(NonceSize, plaintext.Length), blob.AsSpan(NonceSize + plaintext.Length), plaintext, associated);
        return plaintext;
    }
}
