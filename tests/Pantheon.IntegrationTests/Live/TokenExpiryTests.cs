using System.Net.WebSockets;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.IntegrationTests.Projects;
using Pantheon.Web.Auth;
using Pantheon.Web.Live;

namespace Pantheon.IntegrationTests.Live;

[Collection(AppCollection.Name)]
public class TokenExpiryTests(AppFixture app)
{
    [Fact]
    public async Task a_socket_closes_with_a_reason_when_its_token_expires_and_receives_nothing_after()
    {
        // Issued almost an hour ago for an hour: it expires a few seconds from now.
        var lifetime = TimeSpan.FromHours(1);
        var issued = DateTime.UtcNow - lifetime + TimeSpan.FromSeconds(4);
        var user = TestSettings.NewUser();
        var token = DevTokens.Mint(TestSettings.Auth, user, notBefore: issued, lifetime: lifetime);
        var expires = DateTimeOffset.FromUnixTimeSeconds(new DateTimeOffset(issued + lifetime).ToUnixTimeSeconds());

        await using var socket = await (await LiveClient.ConnectAsync(app.Host, token)).Subscribe();
        var closed = await Should.ThrowAsync<InvalidOperationException>(async () =>
        {
            while (true) await socket.Receive(TimeSpan.FromSeconds(30));
        });
        DateTimeOffset.UtcNow.ShouldBeGreaterThanOrEqualTo(expires.AddMilliseconds(-100), "closed before the token expired");
        closed.Message.ShouldStartWith("closed:");
        socket.Socket.CloseStatus.ShouldBe(WebSocketCloseStatus.PolicyViolation);
        socket.Socket.CloseStatusDescription.ShouldBe(LiveSocket.ExpiredReason);

        // A fresh token of the same user still works: only the expired connection ended.
        var fresh = TestSettings.TokenFor(user);
        await using var again = await (await LiveClient.ConnectAsync(app.Host, fresh)).Subscribe();
        var project = await app.Host.Create(fresh, "after expiry");
        (await again.UpdatesUntil(project, "requested")).ShouldNotBeEmpty();
        await app.Host.Send(HttpMethod.Delete, $"/api/projects/{project}", fresh, status: 202);
        await app.Host.WaitUntilGone(fresh, project);
    }
}
