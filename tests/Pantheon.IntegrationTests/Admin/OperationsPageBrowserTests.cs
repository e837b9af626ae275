using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Admin;

[Collection(AppCollection.Name)]
public class OperationsPageBrowserTests
{
    [Fact]
    public async Task the_operations_page_shows_a_project_reach_ready_without_reloading()
    {
        await using var backend = await TestBackend.StartAsync(TestSettings.Base());
        await using var browser = await Chromium.LaunchAsync();
        var token = TestSettings.TokenFor(TestSettings.NewUser("operator"), roles: AuthSettings.AdminRole);

        await browser.Navigate(new Uri(backend.Url, $"/admin/#token={token}"));
        (await browser.WaitFor("document.getElementById('live')?.textContent === 'live'", TimeSpan.FromSeconds(30))).ShouldBeTrue("the page never went live");
        await browser.Evaluate("window.sameDocument = 'yes'");

        using var http = new HttpClient { BaseAddress = backend.Url };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var created = await (await http.PostAsJsonAsync("/api/projects", new { name = "seen-live" })).Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetGuid();

        var status = $"document.querySelector('#projects tr[data-project-id=\"{id}\"] [data-role=status]')?.textContent";
        (await browser.WaitFor($"{status} === 'ready'", TimeSpan.FromSeconds(60))).ShouldBeTrue($"the page showed '{await browser.Evaluate(status)}'");
        (await browser.Evaluate("window.sameDocument"))!.GetValue<string>().ShouldBe("yes", "the page reloaded");
        (await browser.WaitFor($"[...document.querySelectorAll('#sagas tr')].some(r => r.dataset.projectId === '{id}')", TimeSpan.FromSeconds(10))).ShouldBeTrue();
        await browser.Screenshot(Path.Combine(AppContext.BaseDirectory, "screenshots", "operations-page.png"));

        (await http.DeleteAsync($"/api/projects/{id}")).EnsureSuccessStatusCode();
        await Eventually.Get(async () => (await http.GetAsync($"/api/projects/{id}")).StatusCode, s => s == System.Net.HttpStatusCode.NotFound,
            TimeSpan.FromSeconds(60), "the project to be deleted");
    }
}
