using Pantheon.TestSupport;
using Marten;
using Marten.Events;
using Npgsql;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Audit;

/// <summary>On a database of its own: the rebuild runs in another process while no backend writes.</summary>
[Collection(AppCollection.Name)]
public class RebuildTests
{
    private static readonly string[] ReadModels =
        ["mt_doc_user", "mt_doc_usersettings", "mt_doc_providerkeyview", "mt_doc_projectview", "mt_doc_chatturnview", "mt_doc_custommodelview", "mt_doc_auditentry"];

    [Fact]
    public async Task projections_rebuild_restores_every_read_model_from_the_events()
    {
        var settings = TestSettings.Base();
        settings["ConnectionStrings:Marten"] = await TestDatabase.OwnAsync("rebuild");
        settings["ConnectionStrings:MartenOwner"] = TestDatabase.As(settings["ConnectionStrings:Marten"]!, TestDatabase.OwnerRole);
        await using var fake = await FakeProvider.StartAsync();
        settings["Chat:BaseUrls:openrouter"] = fake.BaseUrl + "api/v1";
        settings["OPENROUTER_API_KEY"] = AppFixture.SystemOpenRouterKey;
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user, $"{user}@example.com", "Rebuilt");
        Guid project;
        await using (var host = await AppFixture.StartAsync(settings))
        {
            await host.ResetAllPantheonDataAsync(settings["ConnectionStrings:Marten"]);
            await host.Send(HttpMethod.Get, "/api/me", token);
            await host.Send(HttpMethod.Put, "/api/user/settings", token, new { preferred_model = "anthropic/claude-3-haiku", model_parameters = new { temperature = 0.2 } });
            await host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "kept", provider = "openai", key = "sk-kept-0123456789" }, status: 201);
            var revoked = await host.Send(HttpMethod.Post, "/api/user/api-keys", token, new { name = "gone", provider = "gemini", key = "sk-gone-0123456789" }, status: 201);
            var revokedId = (await revoked.ReadAsJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetGuid();
            await host.Send(HttpMethod.Delete, $"/api/user/api-keys/{revokedId}", token, status: 204);
            await host.Send(HttpMethod.Post, "/api/user/models", token, new { model_id = "mine", provider = "openai-compatible", endpoint = "https://models.example/v1" }, status: 201);
            await host.Send(HttpMethod.Post, "/api/chat", token, new { message = "forgotten", model = "openrouter/x" });
            await host.Send(HttpMethod.Delete, "/api/chat/history", token, status: 204);
            await host.Send(HttpMethod.Post, "/api/chat", token, new { message = "kept", model = "openrouter/x" });
            project = await host.Create(token, "rebuilt");
            await host.WaitFor(token, project, ProjectStatus.Ready);
            (await host.ForceAllMartenDaemonActivityToCatchUpAsync(CancellationToken.None)).ShouldBeEmpty();
        }

        var before = await Snapshot(TestDatabase.AsSuperuser(settings["ConnectionStrings:Marten"]!));
        ReadModels.ShouldAllBe(table => before[table].Count > 0);
        await Wipe(TestDatabase.AsSuperuser(settings["ConnectionStrings:Marten"]!));
        (await Snapshot(TestDatabase.AsSuperuser(settings["ConnectionStrings:Marten"]!))).Values.ShouldAllBe(rows => rows.Count == 0);

        var (exit, output, error) = await PantheonCli.RunAsync(settings, "projections", "rebuild");
        exit.ShouldBe(0, output + error);

        var after = await Snapshot(TestDatabase.AsSuperuser(settings["ConnectionStrings:Marten"]!));
        foreach (var table in ReadModels) after[table].ShouldBe(before[table], table);

        await using var cleanup = await AppFixture.StartAsync(settings);
        await cleanup.Send(HttpMethod.Delete, $"/api/projects/{project}", token, status: 202);
        await cleanup.WaitUntilGone(token, project);
    }

    private static async Task<Dictionary<string, List<string>>> Snapshot(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        var result = new Dictionary<string, List<string>>();
        foreach (var table in ReadModels)
        {
            var rows = new List<string>();
            await using var command = new NpgsqlCommand($"select id::text || ' ' || data::text from pantheon.{table} order by id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync()) rows.Add(reader.GetString(0));
            result[table] = rows;
        }
        return result;
    }

    private static async Task Wipe(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var table in ReadModels)
        {
            await using var command = new NpgsqlCommand($"delete from pantheon.{table}", connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
