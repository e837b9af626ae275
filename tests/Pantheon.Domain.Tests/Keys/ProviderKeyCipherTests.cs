using System.Security.Cryptography;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;

namespace Pantheon.Domain.Tests.Keys;

public class ProviderKeyCipherTests
{
    private static readonly ProviderKeyCipher Cipher =
        new(MasterSecret.From("a-master-secret-of-at-least-32-characters!", isDevelopment: false));
    private static readonly Guid KeyId = Guid.CreateVersion7();

    [Fact]
    public void a_sealed_key_opens_to_the_same_key()
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        Cipher.Open("alice", KeyId, sealedKey.Ciphertext, sealedKey.WrappedDataKey).ShouldBe("sk-live-0123456789");
    }

    [Fact]
    public void both_blobs_carry_the_version_prefix_and_no_plaintext()
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        sealedKey.Ciphertext.ShouldStartWith("v1:");
        sealedKey.WrappedDataKey.ShouldStartWith("v1:");
        sealedKey.Ciphertext.ShouldNotContain("sk-live");
    }

    [Fact]
    public void the_same_key_sealed_twice_gives_different_ciphertexts()
    {
        Cipher.Seal("alice", KeyId, "sk-same").Ciphertext.ShouldNotBe(Cipher.Seal("alice", KeyId, "sk-same").Ciphertext);
    }

    [Theory]
    [InlineData("bob", false)]
    [InlineData("alice", true)]
    public void a_ciphertext_moved_to_another_user_or_key_does_not_open(string user, bool otherKeyId)
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        Should.Throw<CryptographicException>(() => Cipher.Open(user, otherKeyId ? Guid.CreateVersion7() : KeyId, sealedKey.Ciphertext, sealedKey.WrappedDataKey));
    }

    [Fact]
    public void a_tampered_ciphertext_does_not_open()
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        var bytes = Convert.FromBase64String(sealedKey.Ciphertext[3..]);
        bytes[^1] ^= 1;
        Should.Throw<CryptographicException>(() => Cipher.Open("alice", KeyId, "v1:" + Convert.ToBase64String(bytes), sealedKey.WrappedDataKey));
    }

    [Fact]
    public void another_master_secret_cannot_unwrap_the_data_key()
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        var other = new ProviderKeyCipher(MasterSecret.From("another-master-secret-of-32-characters!!", isDevelopment: false));
        Should.Throw<CryptographicException>(() => other.Open("alice", KeyId, sealedKey.Ciphertext, sealedKey.WrappedDataKey));
    }

    [Fact]
    public void an_unknown_version_is_refused()
    {
        var sealedKey = Cipher.Seal("alice", KeyId, "sk-live-0123456789");
        Should.Throw<CryptographicException>(() => Cipher.Open("alice", KeyId, "v2:" + sealedKey.Ciphertext[3..], sealedKey.WrappedDataKey));
    }

    [Theory]
    [InlineData(null, false)]
    [InlineData("", false)]
    [InlineData("short", false)]
    [InlineData("short", true)]
    public void a_missing_or_short_master_secret_is_refused(string? secret, bool development)
    {
        Should.Throw<InvalidOperationException>(() => MasterSecret.From(secret, development)).Message.ShouldContain("MCP_MASTER_SECRET");
    }

    [Fact]
    public void only_development_falls_back_to_a_marked_development_secret()
    {
        MasterSecret.From(null, isDevelopment: true).IsDevelopmentFallback.ShouldBeTrue();
        Should.Throw<InvalidOperationException>(() => MasterSecret.From(null, isDevelopment: false));
    }

    [Fact]
    public void the_development_fallback_string_is_refused_outside_development()
    {
        Should.Throw<InvalidOperationException>(() => MasterSecret.From(MasterSecret.DevelopmentFallback, isDevelopment: false))
            .Message.ShouldContain("development fallback");
        MasterSecret.From(MasterSecret.DevelopmentFallback, isDevelopment: true).IsDevelopmentFallback.ShouldBeTrue();
    }
}

public class KeyDeciderTests
{
    [Fact]
    public void the_hint_is_the_last_four_characters()
    {
        KeyDecider.HintOf("sk-abcdefgh1234").ShouldBe("1234");
    }

    [Fact]
    public void only_the_owner_revokes_an_active_key()
    {
        var now = DateTimeOffset.UtcNow;
        var key = ProviderKey.Create(new KeyAdded(Guid.NewGuid(), "alice", "k", Providers.OpenAI, "1234", "v1:x", now));
        KeyDecider.Revoke(key, "bob", now).ShouldBeEmpty();
        KeyDecider.Revoke(null, "alice", now).ShouldBeEmpty();
        KeyDecider.Revoke(key, "alice", now).ShouldHaveSingleItem().ShouldBeOfType<KeyRevoked>();
    }
}
