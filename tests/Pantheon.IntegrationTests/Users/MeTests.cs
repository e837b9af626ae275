using Alba;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Users;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Users;

namespace Pantheon.IntegrationTests.Users;

[Collection(AppCollection.Name)]
public class MeTests(AppFixture app)
{
    [Fact]
    public async Task first_call_registers_the_user_from_the_token_claims()
    {
        var user = TestSettings.NewUser();
        var me = await app.Host.GetJson<UserProfileResponse>("/api/me", TestSettings.TokenFor(user, "ada@example.com", "Ada", "pantheon-admin"));

        me.Id.ShouldBe(user);
        me.Email.ShouldBe("ada@example.com");
        me.Name.ShouldBe("Ada");
        me.Roles.ShouldBe(["pantheon-admin"]);

        var events = await StreamOf(user);
        events.Single().Data.ShouldBeOfType<UserRegistered>().Email.ShouldBe("ada@example.com");
    }

    [Fact]
    public async Task later_calls_record_only_changed_claims()
    {
        var user = TestSettings.NewUser();
        var first = await app.Host.GetJson<UserProfileResponse>("/api/me", TestSettings.TokenFor(user, "ada@example.com", "Ada"));
        await app.Host.GetJson<UserProfileResponse>("/api/me", TestSettings.TokenFor(user, "ada@example.com", "Ada"));
        var renamed = await app.Host.GetJson<UserProfileResponse>("/api/me", TestSettings.TokenFor(user, "ada@example.com", "Ada Lovelace"));

        renamed.Name.ShouldBe("Ada Lovelace");
        renamed.RegisteredAt.ShouldBe(first.RegisteredAt);
        var events = await StreamOf(user);
        events.Select(e => e.Data.GetType()).ShouldBe([typeof(UserRegistered), typeof(UserProfileChanged)]);
    }

    [Fact]
    public async Task every_event_records_the_user_who_caused_it_and_a_correlation_id()
    {
        var user = TestSettings.NewUser();
        await app.Host.GetJson<UserProfileResponse>("/api/me", TestSettings.TokenFor(user, "a@example.com"));

        var recorded = (await StreamOf(user)).Single();
        recorded.UserName.ShouldBe(user);
        recorded.CorrelationId.ShouldNotBeNullOrEmpty();
    }

    [Fact]
    public async Task a_burst_of_first_calls_registers_the_user_once_and_answers_every_call()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user, "burst@example.com", "Burst");
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Get.Url("/api/me");
            x.IgnoreStatusCode();
        })));

        answers.Select(a => a.Context.Response.StatusCode).ShouldAllBe(status => status == 200);
        var profiles = await Task.WhenAll(answers.Select(a => a.ReadAsJsonAsync<UserProfileResponse>()));
        profiles.Select(p => p!.RegisteredAt).Distinct().ShouldHaveSingleItem();
        (await StreamOf(user)).ShouldHaveSingleItem().Data.ShouldBeOfType<UserRegistered>();
    }

    private async Task<IReadOnlyList<JasperFx.Events.IEvent>> StreamOf(string user)
    {
        await using var session = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession();
        return await session.Events.FetchStreamAsync(UserId.StreamFor(user));
    }
}
