using System.Text.Json;
using Pantheon.Domain.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;

namespace Pantheon.IntegrationTests.Live;

[Collection(AppCollection.Name)]
public class LiveUpdateTests(AppFixture app)
{
    [Fact]
    public async Task a_subscriber_receives_its_projects_provisioning_in_event_order_and_nothing_of_others()
    {
        var alice = TestSettings.TokenFor(TestSettings.NewUser("alice"));
        var bob = TestSettings.TokenFor(TestSettings.NewUser("bob"));
        await using var aliceSocket = await (await LiveClient.ConnectAsync(app.Host, alice)).Subscribe();
        await using var bobSocket = await (await LiveClient.ConnectAsync(app.Host, bob, inQuery: true)).Subscribe();

        var project = await app.Host.Create(alice, "watched");
        var updates = await aliceSocket.UpdatesUntil(project, "ready");
        updates.Select(u => u.GetProperty("event").GetString()).ShouldBe(["project_requested", "network_allocated", "shared_folder_prepared", "vm_booted"]);
        updates.Select(u => u.GetProperty("status").GetString()).ShouldBe(["requested", "provisioning", "provisioning", "ready"]);

        // Bob's own project's first update arrives after everything of Alice's: had he been sent hers, he would see them first.
        var his = await app.Host.Create(bob, "his");
        var first = await bobSocket.Receive();
        first.GetProperty("project_id").GetGuid().ShouldBe(his);

        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project}", alice, status: 202);
        (await aliceSocket.UpdatesUntil(project, "deleted")).Select(u => u.GetProperty("status").GetString()).ShouldBe(["deleting", "deleted"]);
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{his}", bob, status: 202);
        await app.Host.WaitUntilGone(bob, his);
    }

    [Fact]
    public async Task an_update_on_one_backend_reaches_a_client_of_another()
    {
        await using var other = await AppFixture.StartAsync(TestSettings.Base());
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        await using var socket = await (await LiveClient.ConnectAsync(other, token)).Subscribe();

        var project = await app.Host.Create(token, "elsewhere");
        (await socket.UpdatesUntil(project, "ready")).Last().GetProperty("event").GetString().ShouldBe("vm_booted");
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project}", token, status: 202);
        await app.Host.WaitUntilGone(token, project);
    }

    [Fact]
    public async Task bad_messages_get_an_error_and_the_socket_stays_open()
    {
        await using var socket = await LiveClient.ConnectAsync(app.Host, TestSettings.TokenFor(TestSettings.NewUser()));
        await socket.Send("{not json");
        (await socket.Receive()).GetProperty("type").GetString().ShouldBe("error");
        await socket.Send("""{"type":"dance"}""");
        (await socket.Receive()).GetProperty("message").GetString()!.ShouldContain("dance");
        await socket.Send("""{"type":"subscribe","channel":"everything"}""");
        (await socket.Receive()).GetProperty("type").GetString().ShouldBe("error");
        await socket.Subscribe();
        await socket.Send("""{"type":"unsubscribe","channel":"project-updates"}""");
        (await socket.Receive()).GetProperty("type").GetString().ShouldBe("unsubscribed");
    }

    [Fact]
    public async Task an_upgrade_without_a_valid_token_is_refused_with_401()
    {
        await app.Host.Scenario(x =>
        {
            x.Get.Url("/ws");
            x.StatusCodeShouldBe(401);
        });
        await app.Host.Scenario(x =>
        {
            x.Get.Url("/ws?access_token=not.a.token");
            x.StatusCodeShouldBe(401);
        });
        var refused = await Should.ThrowAsync<Exception>(() => LiveClient.ConnectAsync(app.Host, "not.a.token"));
        refused.Message.ShouldContain("401");
    }
}
