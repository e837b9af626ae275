using System.Text.Json;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Chat;

[Collection(AppCollection.Name)]
public class ConversationIsolationTests(AppFixture app)
{
    [Fact]
    public async Task a_subject_made_of_a_project_id_and_another_user_neither_reads_nor_clears_that_users_project_conversation()
    {
        app.Fake.Behavior = new FakeBehavior { Reply = "bob's answer" };
        var bob = TestSettings.NewUser("bob");
        var bobToken = TestSettings.TokenFor(bob);
        var project = await app.Host.Create(bobToken, "bob project");
        // The message is recorded before the provider is called: whether the reply comes in time is not this test's concern.
        await app.Host.Scenario(x =>
        {
            x.WithBearerToken(bobToken);
            x.Post.Json(new { message = "bob's secret", project_id = project }).ToUrl("/api/chat");
            x.IgnoreStatusCode();
        });

        var mallory = TestSettings.TokenFor($"{project:D}:{bob}");
        (await Turns(mallory)).ShouldBeEmpty();
        await app.Host.Send(HttpMethod.Delete, "/api/chat/history", mallory, status: 204);
        await app.Host.Send(HttpMethod.Get, $"/api/chat/history?project_id={project}", mallory, status: 404);

        var bobs = await Turns(bobToken, project);
        bobs.Count.ShouldBe(2); // the message, and the reply or its failure
        bobs[0].GetProperty("content").GetString().ShouldBe("bob's secret");
    }

    private async Task<List<JsonElement>> Turns(string token, Guid? project = null)
    {
        var url = project is null ? "/api/chat/history" : $"/api/chat/history?project_id={project}";
        var history = await app.Host.GetJson<JsonElement>(url, token);
        return history.GetProperty("turns").EnumerateArray().ToList();
    }
}
