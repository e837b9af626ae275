using Pantheon.Domain.Audit;
using System.Text.Json;
using Marten;
using Marten.Events;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Audit;

[Collection(AppCollection.Name)]
public class AuditTests(AppFixture app)
{
    private const string Key = "sk-audit-secret-key-0123456789";

    [Fact]
    public async Task a_user_sees_their_own_entries_and_an_admin_everyones()
    {
        var (alice, bob) = (TestSettings.NewUser("alice"), TestSettings.NewUser("bob"));
        await Activity(alice);
        await Activity(bob);
        await CatchUp();

        var own = await Entries(TestSettings.TokenFor(alice), "");
        own.ShouldNotBeEmpty();
        own.ShouldAllBe(e => e.GetProperty("user_id").GetString() == alice);
        own.Select(e => e.GetProperty("type").GetString()).ShouldContain("key_added");
        own.Single(e => e.GetProperty("type").GetString() == "key_added").GetProperty("summary").GetString()!.ShouldContain(Key[^4..]);
        own.ShouldAllBe(e => !e.ToString().Contains(Key));
        own.ShouldAllBe(e => !string.IsNullOrEmpty(e.GetProperty("correlation_id").GetString()));

        var admin = TestSettings.TokenFor(TestSettings.NewUser("admin"), roles: AuthSettings.AdminRole);
        var everyone = await Entries(admin, $"user={bob}");
        everyone.ShouldNotBeEmpty();
        everyone.ShouldAllBe(e => e.GetProperty("user_id").GetString() == bob);
        await app.Host.Send(HttpMethod.Get, $"/api/audit?user={bob}", TestSettings.TokenFor(alice), status: 400);
    }

    [Fact]
    public async Task filters_and_cursor_paging_walk_the_log_in_order()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await Activity(user);
        await Activity(user);
        await CatchUp();
        var all = await Entries(token, "limit=500");

        var paged = new List<JsonElement>();
        long? after = null;
        do
        {
            var page = await app.Host.GetJson<JsonElement>($"/api/audit?limit=2{(after is null ? "" : $"&after={after}")}", token);
            var entries = page.GetProperty("entries").EnumerateArray().ToList();
            entries.Count.ShouldBeLessThanOrEqualTo(2);
            paged.AddRange(entries);
            after = page.GetProperty("next_after").ValueKind == JsonValueKind.Null ? null : page.GetProperty("next_after").GetInt64();
        } while (after is not null);
        paged.Select(e => e.GetProperty("id").GetInt64()).ShouldBe(all.Select(e => e.GetProperty("id").GetInt64()));
        paged.Select(e => e.GetProperty("id").GetInt64()).ShouldBeInOrder();

        var keys = await Entries(token, "type=key_added");
        keys.Count.ShouldBe(2);
        var stream = keys[0].GetProperty("stream").GetGuid();
        (await Entries(token, $"stream={stream}")).ShouldAllBe(e => e.GetProperty("stream").GetGuid() == stream);
        var second = keys[1].GetProperty("at").GetDateTimeOffset();
        (await Entries(token, $"type=key_added&from={Uri.EscapeDataString(second.ToString("O"))}")).Count.ShouldBe(1);
        (await Entries(token, $"type=key_added&to={Uri.EscapeDataString(second.AddTicks(-10).ToString("O"))}")).Count.ShouldBe(1);

        await app.Host.Send(HttpMethod.Get, "/api/audit?limit=501", token, status: 400);
        await app.Host.Send(HttpMethod.Get, "/api/audit?limit=abc", token, status: 400);
    }

    [Fact]
    public async Task a_project_owner_reads_the_projects_events_in_order_and_no_one_else_does()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var id = await app.Host.Create(token, "audited");
        await app.Host.WaitFor(token, id, ProjectStatus.Ready);

        var events = await app.Host.GetJson<List<JsonElement>>($"/api/projects/{id}/events", token);
        events.Select(e => e.GetProperty("type").GetString()).ShouldBe(["project_requested", "network_allocated", "shared_folder_prepared", "vm_booted"]);
        events.Select(e => e.GetProperty("version").GetInt64()).ShouldBe([1L, 2, 3, 4]);
        await app.Host.Send(HttpMethod.Get, $"/api/projects/{id}/events", TestSettings.TokenFor(TestSettings.NewUser()), status: 404);
        await app.Host.Send(HttpMethod.Get, $"/api/projects/{Guid.NewGuid()}/events", token, status: 404);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await app.Host.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task the_audit_verbs_print_a_timeline_a_past_state_and_redacted_json_lines()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await Activity(user);
        var id = await app.Host.Create(token, "replayed");
        await app.Host.WaitFor(token, id, ProjectStatus.Ready);
        var settings = TestSettings.Base();

        var (exit, timeline, error) = await PantheonCli.RunAsync(settings, "audit", "project", id.ToString());
        exit.ShouldBe(0, error);
        var lines = timeline.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Select(l => l.Split(" ", StringSplitOptions.RemoveEmptyEntries)[3])
            .ShouldBe(["project_requested", "network_allocated", "shared_folder_prepared", "vm_booted"]);
        lines.ShouldAllBe(l => l.Contains(user));

        (exit, var past, error) = await PantheonCli.RunAsync(settings, "audit", "project", id.ToString(), "--at", "1");
        exit.ShouldBe(0, error);
        var then = JsonSerializer.Deserialize<JsonElement>(past);
        then.GetProperty("status").GetString().ShouldBe("requested");
        then.GetProperty("subnet").ValueKind.ShouldBe(JsonValueKind.Null);

        (exit, var export, error) = await PantheonCli.RunAsync(settings, "audit", "export", "--stream", id.ToString());
        exit.ShouldBe(0, error);
        var exported = export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<JsonElement>(l)).ToList();
        exported.Select(e => e.GetProperty("type").GetString()).ShouldBe(["project_requested", "network_allocated", "shared_folder_prepared", "vm_booted"]);
        exported.Select(e => e.GetProperty("sequence").GetInt64()).ShouldBeInOrder();
        exported.ShouldAllBe(e => e.GetProperty("stream").GetGuid() == id && e.GetProperty("user").GetString() == user);

        (exit, var everything, error) = await PantheonCli.RunAsync(settings, "audit", "export");
        exit.ShouldBe(0, error);
        everything.ShouldNotContain(Key);
        var keyAdded = everything.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<JsonElement>(l))
            .First(e => e.GetProperty("type").GetString() == "key_added" && e.GetProperty("user").GetString() == user);
        keyAdded.GetProperty("data").GetProperty("ciphertext").GetString().ShouldBe("[redacted]");

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
        await app.Host.WaitUntilGone(token, id);
    }

    [Fact]
    public async Task the_streamed_export_writes_each_event_as_deserialising_and_serialising_it_for_the_api_would()
    {
        var user = TestSettings.NewUser();
        await Activity(user);
        await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", TestSettings.TokenFor(user),
            new { name = "quote\"and <tag> & é \\ \u2028", provider = "openai", key = Key }, status: 201);

        var (exit, export, error) = await PantheonCli.RunAsync(TestSettings.Base(), "audit", "export");
        exit.ShouldBe(0, error);

        var lines = export.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<JsonElement>(l)).ToList();
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        // Other collections write to this database meanwhile: compare what was exported with the store, by sequence.
        var last = lines[^1].GetProperty("sequence").GetInt64();
        var events = (await session.Events.QueryAllRawEvents().Where(e => e.Sequence <= last).ToListAsync()).ToDictionary(e => e.Sequence);
        lines.Select(l => l.GetProperty("sequence").GetInt64()).ShouldBeInOrder(SortDirection.Ascending);
        events.Values.Where(e => e.UserName == user).Select(e => e.Sequence)
            .ShouldBeSubsetOf(lines.Select(l => l.GetProperty("sequence").GetInt64()));
        var api = new JsonSerializerOptions();
        Pantheon.Web.Json.Configure(api);
        foreach (var line in lines)
        {
            var e = events[line.GetProperty("sequence").GetInt64()];
            var expected = JsonSerializer.SerializeToElement(AuditText.Redacted(e.Data), e.Data.GetType(), api);
            JsonElement.DeepEquals(line.GetProperty("data"), expected).ShouldBeTrue($"{e.EventTypeName}: {line.GetProperty("data")} != {expected}");
            line.GetProperty("type").GetString().ShouldBe(e.EventTypeName);
            line.GetProperty("time").GetDateTimeOffset().ShouldBe(e.Timestamp);
            line.GetProperty("stream").GetGuid().ShouldBe(e.StreamId);
            line.GetProperty("user").GetString().ShouldBe(e.UserName);
            line.GetProperty("correlation_id").GetString().ShouldBe(e.CorrelationId);
        }
        lines.Select(l => l.GetProperty("type").GetString()).ShouldContain("key_added");
        export.ShouldNotContain(Key);
    }

    [Fact]
    public async Task an_export_whose_reader_stops_early_ends_quietly()
    {
        // One row far larger than a pipe holds (64 KiB), so the export is still writing when its reader goes, as with `| head`.
        var stream = Guid.CreateVersion7();
        await using (var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            session.Events.StartStream(stream, Build(typeof(Pantheon.Domain.Keys.KeyAdded),
                i => i == nameof(Pantheon.Domain.Keys.KeyAdded.Name) ? new string('x', 1 << 20) : $"early-{i}"));
            await session.SaveChangesAsync();
        }

        using var export = PantheonCli.Start(TestSettings.Base(), "audit", "export", "--stream", stream.ToString());
        var error = export.StandardError.ReadToEndAsync();
        var first = new byte[16];
        (await export.StandardOutput.BaseStream.ReadAtLeastAsync(first, first.Length)).ShouldBe(first.Length);
        export.StandardOutput.Close();
        await export.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));

        System.Text.Encoding.UTF8.GetString(first).ShouldStartWith("{\"sequence\":");
        (await error).ShouldNotContain("Unhandled exception");
        export.ExitCode.ShouldBe(0);
    }

    [Fact]
    public async Task the_export_blanks_every_secret_field_of_every_event_type_that_has_one_even_in_a_row_larger_than_its_buffer()
    {
        // One event of each type with secrets, every string field a value of its own (a secret's must never leave),
        // and one more whose row is larger than the export's read buffer, so that it arrives in pieces.
        var stream = Guid.CreateVersion7();
        var events = AuditText.SecretFields.Keys.Select(type => Build(type, i => $"field-{i}-{Guid.NewGuid():N}")).ToList();
        var large = new string('x', 3 << 20);
        events.Add(Build(typeof(Pantheon.Domain.Keys.KeyAdded), i => i == nameof(Pantheon.Domain.Keys.KeyAdded.Name) ? large : $"big-{i}"));
        await using (var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession())
        {
            session.Events.StartStream(stream, events);
            await session.SaveChangesAsync();
        }

        using var output = new MemoryStream();
        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        Pantheon.Web.Audit.EventExport.Write(TestDatabase.ConnectionString, store.Options.DatabaseSchemaName,
            new Pantheon.Web.Audit.EventExport.Filter(null, null, stream), output);
        var text = System.Text.Encoding.UTF8.GetString(output.ToArray());
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonSerializer.Deserialize<JsonElement>(l)).ToList();

        lines.Count.ShouldBe(events.Count);
        var api = new JsonSerializerOptions();
        Pantheon.Web.Json.Configure(api);
        foreach (var (line, e) in lines.Zip(events))
        {
            var secrets = AuditText.SecretFields[e.GetType()];
            foreach (var field in secrets)
            {
                var value = (string)e.GetType().GetProperty(field)!.GetValue(e)!;
                text.ShouldNotContain(value);
                line.GetProperty("data").GetProperty(JsonNamingPolicy.SnakeCaseLower.ConvertName(field)).GetString().ShouldBe("[redacted]");
            }
            var expected = JsonSerializer.SerializeToElement(AuditText.Redacted(e), e.GetType(), api);
            JsonElement.DeepEquals(line.GetProperty("data"), expected).ShouldBeTrue(e.GetType().Name);
        }
        lines[^1].GetProperty("data").GetProperty("name").GetString().ShouldBe(large);
    }

    /// <summary>An event of <paramref name="type"/> through its widest constructor, each string argument from <paramref name="text"/>.</summary>
    private static object Build(Type type, Func<string, string> text)
    {
        var constructor = type.GetConstructors().MaxBy(c => c.GetParameters().Length)!;
        return constructor.Invoke(constructor.GetParameters().Select(p => p.ParameterType switch
        {
            var t when t == typeof(string) => text(p.Name![..1].ToUpperInvariant() + p.Name[1..]),
            var t when t == typeof(Guid) || t == typeof(Guid?) => Guid.NewGuid(),
            var t when t == typeof(DateTimeOffset) || t == typeof(DateTimeOffset?) => DateTimeOffset.UtcNow,
            var t when t.IsValueType => Activator.CreateInstance(t),
            _ => null,
        }).ToArray());
    }

    /// <summary>The audit log is built by the async daemon; tests drive it to the end of the log explicitly.</summary>
    private async Task CatchUp() =>
        (await app.Host.ForceAllMartenDaemonActivityToCatchUpAsync(CancellationToken.None)).ShouldBeEmpty();

    private async Task Activity(string user)
    {
        var token = TestSettings.TokenFor(user, $"{user}@example.com");
        await app.Host.Send(HttpMethod.Get, "/api/me", token);
        await app.Host.Send(HttpMethod.Put, "/api/user/settings", token, new { preferred_model = $"openai/gpt-4o-{Guid.NewGuid():N}" });
        await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "audited", provider = "openai", key = Key }, status: 201);
    }

    private async Task<List<JsonElement>> Entries(string token, string query) =>
        (await app.Host.GetJson<JsonElement>($"/api/audit?{query}", token)).GetProperty("entries").EnumerateArray().ToList();
}
