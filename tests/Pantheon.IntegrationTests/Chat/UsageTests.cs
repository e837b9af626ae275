using Pantheon.Handlers.Infrastructure;
using System.Text.Json;
using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Projections.Chat;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

[Collection(AppCollection.Name)]
public class UsageTests(AppFixture app)
{
    [Fact]
    public async Task twenty_chats_of_one_user_at_once_all_add_up_in_the_usage_projection()
    {
        app.Fake.Behavior = new FakeBehavior { InputTokens = 5, OutputTokens = 3, Delay = TimeSpan.FromMilliseconds(200) };
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await app.Host.Send(HttpMethod.Post, "/api/user/api-keys", token,
            new { name = "k", provider = "openai", key = "sk-usage-burst-1234" }, status: 201);
        var conversations = await Conversations(app, user, 20);

        var statuses = await Task.WhenAll(conversations.Select(project => ChatStatus(app, token, project, "openai/gpt-4o")));
        app.Fake.Behavior = new FakeBehavior();
        statuses.ShouldAllBe(s => s == 200);

        var usage = await app.Host.GetJson<JsonElement>("/api/user/usage", token);
        usage.GetProperty("requests").GetInt64().ShouldBe(20);
        usage.GetProperty("input_tokens").GetInt64().ShouldBe(100);
        usage.GetProperty("output_tokens").GetInt64().ShouldBe(60);
        usage.GetProperty("total_tokens").GetInt64().ShouldBe(160);
        usage.GetProperty("by_model").EnumerateArray().ShouldHaveSingleItem().GetProperty("requests").GetInt64().ShouldBe(20);
        usage.GetProperty("by_key").EnumerateArray().ShouldHaveSingleItem().GetProperty("total_tokens").GetInt64().ShouldBe(160);

        // The answer is the projection's one row, not a scan of the twenty raw events.
        var db = app.Host.Services.GetRequiredService<NpgsqlDataSource>();
        var (connection, transaction) = await new DatabaseActor.User(user).BeginAsync(db, default);
        await using var _ = connection;
        await using var __ = transaction;
        var rows = await app.Host.Services.GetRequiredService<UsageTotals>().For(connection, user, default);
        rows.ShouldHaveSingleItem().ShouldBe(rows[0] with { Requests = 20, TokensIn = 100, TokensOut = 60 });
    }

    [Fact]
    public async Task replaying_a_usage_event_never_counts_it_twice()
    {
        app.Fake.Behavior = new FakeBehavior { InputTokens = 5, OutputTokens = 3 };
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user);
        await app.Host.Send(HttpMethod.Post, "/api/chat", token, new { message = "once", model = "mistralai/mixtral-8x7b" });

        // What a projection rebuild does to an inline projection: run it again over the same events.
        var store = app.Host.Services.GetRequiredService<IDocumentStore>();
        await using (var query = store.QuerySession())
        {
            var events = await query.Events.QueryAllRawEvents().Where(e => e.EventTypeName == "usage_recorded").ToListAsync();
            var mine = events.Where(e => ((Pantheon.Domain.Chat.UsageRecorded)e.Data).UserId == user).ToList();
            mine.Count.ShouldBe(1);
            await using var session = store.LightweightSession();
            await new UsageTotalsProjection(app.Host.Services.GetRequiredService<UsageTotals>()).ApplyAsync(session, mine, default);
            await session.SaveChangesAsync();
        }

        var usage = await app.Host.GetJson<JsonElement>("/api/user/usage", token);
        usage.GetProperty("requests").GetInt64().ShouldBe(1);
        usage.GetProperty("total_tokens").GetInt64().ShouldBe(8);
    }

    /// <summary>
    /// Projects of the user, recorded straight in the store (no machines are provisioned for them): each is a conversation
    /// of its own, so concurrent turns never share a conversation stream.
    /// </summary>
    internal static async Task<List<Guid>> Conversations(AppFixture app, string user, int count)
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().LightweightSession();
        var ids = Enumerable.Range(0, count).Select(_ => Guid.CreateVersion7()).ToList();
        foreach (var id in ids)
        {
            var requested = new ProjectRequested(id, user, $"conversation {id:N}", ProjectOs.Windows11, DateTimeOffset.UtcNow);
            session.Events.StartStream(id, requested);
        }
        await session.SaveChangesAsync();
        return ids;
    }

    internal static async Task<int> ChatStatus(AppFixture app, string token, Guid project, string model, int? maxTokens = null)
    {
        var result = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Json(new { message = "hi", project_id = project, model, model_parameters = new { max_tokens = maxTokens } })
                .ToUrl("/api/chat");
            x.IgnoreStatusCode();
        });
        return result.Context.Response.StatusCode;
    }
}
