using System.Security.Cryptography;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Infrastructure;
using Pantheon.Web.Keys;

namespace Pantheon.IntegrationTests.Keys;

[Collection(AppCollection.Name)]
public class ApiKeyTests(AppFixture app)
{
    private static string NewSecretKey() => "sk-test-" + Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant();

    [Fact]
    public async Task adding_a_key_answers_201_with_a_hint_and_never_the_key()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var key = NewSecretKey();
        var result = await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "Work", provider = "openai", key }, status: 201);

        var body = result.ReadAsText();
        body.ShouldNotContain(key);
        var created = JsonSerializer.Deserialize<JsonElement>(body);
        created.GetProperty("name").GetString().ShouldBe("Work");
        created.GetProperty("provider").GetString().ShouldBe("openai");
        created.GetProperty("hint").GetString().ShouldBe(key[^4..]);
        created.GetProperty("created_at").GetDateTimeOffset().ShouldBeGreaterThan(DateTimeOffset.UtcNow.AddMinutes(-1));
        var id = created.GetProperty("id").GetGuid();
        result.Context.Response.Headers.Location.ToString().ShouldBe($"/api/user/api-keys/{id}");

        var listed = (await app.Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", token)).Items;
        listed.ShouldHaveSingleItem().ShouldBe(new ApiKeyResponse(id, "Work", "openai", key[^4..], listed[0].CreatedAt));
    }

    [Fact]
    public async Task revoking_a_key_removes_it_and_destroys_its_data_key()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        var key = NewSecretKey();
        var id = await Add(token, key, "anthropic");

        // Before revocation the stored pieces open to the key, so the envelope really holds it.
        var (ciphertext, wrapped) = await StoredPieces(id);
        app.Host.Services.GetRequiredService<IProviderKeyCipher>().Open(user, id, ciphertext, wrapped!).ShouldBe(key);

        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{id}", token, status: 204);

        (await app.Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", token)).Items.ShouldBeEmpty();
        var (_, destroyed) = await StoredPieces(id);
        destroyed.ShouldBeNull();
        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{id}", token, status: 404);

        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var events = await session.Events.FetchStreamAsync(id);
        events.Select(e => e.Data.GetType()).ShouldBe([typeof(KeyAdded), typeof(KeyRevoked)]);
        events.ShouldAllBe(e => e.UserName == user);
    }

    [Fact]
    public async Task a_user_cannot_see_or_revoke_another_users_key()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        var id = await Add(alice, NewSecretKey(), "gemini");

        (await app.Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", bob)).Items.ShouldBeEmpty();
        var problem = await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{id}", bob, status: 404);
        problem.ReadAsText().ShouldNotContain("gemini");
        (await app.Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", alice)).Items.ShouldHaveSingleItem().Id.ShouldBe(id);
    }

    [Fact]
    public async Task revoking_an_unknown_key_is_a_404()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{Guid.NewGuid()}", token, status: 404);
        await app.Host.Send(HttpMethod.Delete, "/api/user/api-keys/not-a-guid", token, status: 404);
    }

    public static TheoryData<string, string> InvalidKeys() => new()
    {
        { """{"name":"x","provider":"acme","key":"sk-1234567890"}""", "provider" },
        { """{"name":"x","provider":"openai"}""", "key" },
        { """{"name":"x","provider":"openai","key":"short"}""", "key" },
        { """{"name":"x","provider":"openai","key":"sk-has a space"}""", "key" },
        { """{"provider":"openai","key":"sk-1234567890"}""", "name" },
        { "{\"name\":\"" + new string('n', 101) + "\",\"provider\":\"openai\",\"key\":\"sk-1234567890\"}", "name" },
    };

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task invalid_keys_are_a_400_naming_the_field_and_store_nothing(string body, string field)
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await app.Host.ShouldRejectField(HttpMethod.Post, "/api/user/api-keys", token, body, field);
        (await app.Host.GetJson<Page<ApiKeyResponse>>("/api/user/api-keys", token)).Items.ShouldBeEmpty();
    }

    [Fact]
    public async Task no_table_in_the_database_and_no_log_line_holds_a_plaintext_key()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var keys = new[] { NewSecretKey(), NewSecretKey() };
        var revoked = await Add(token, keys[0], "openrouter");
        await Add(token, keys[1], "openai");
        await app.Host.Send(HttpMethod.Delete, $"/api/user/api-keys/{revoked}", token, status: 204);

        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
            "select format('%I.%I', table_schema, table_name) from information_schema.tables " +
            "where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')", connection))
        await using (var reader = await list.ExecuteReaderAsync())
            while (await reader.ReadAsync()) tables.Add(reader.GetString(0));

        tables.ShouldContain("pantheon.mt_events");
        foreach (var table in tables)
        foreach (var key in keys)
        {
            // The whole row as text covers every column, jsonb and bytea (as hex) included.
            await using var scan = new NpgsqlCommand($"select count(*) from {table} t where t::text like @text or t::text like @hex", connection);
            scan.Parameters.AddWithValue("text", $"%{key}%");
            scan.Parameters.AddWithValue("hex", $"%{Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(key)).ToLowerInvariant()}%");
            ((long)(await scan.ExecuteScalarAsync())!).ShouldBe(0, $"{table} holds a plaintext key");
        }

        app.Logs.Lines.ShouldNotBeEmpty();
        foreach (var key in keys) app.Logs.Lines.ShouldNotContain(line => line.Contains(key));
    }

    private async Task<Guid> Add(string token, string key, string provider)
    {
        var result = await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = provider + " key", provider, key }, status: 201);
        return (await result.ReadAsJsonAsync<ApiKeyResponse>())!.Id;
    }

    private async Task<(string Ciphertext, string? WrappedDataKey)> StoredPieces(Guid id)
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        var added = (await session.Events.FetchStreamAsync(id)).Select(e => e.Data).OfType<KeyAdded>().Single();
        var secret = await session.LoadAsync<ProviderKeySecret>(id);
        return (added.Ciphertext, secret?.WrappedDataKey);
    }
}
