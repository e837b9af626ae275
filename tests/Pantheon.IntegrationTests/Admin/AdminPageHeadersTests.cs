using Alba;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Admin;

[Collection(AppCollection.Name)]
public class AdminPageHeadersTests(AppFixture app)
{
    [Theory]
    [InlineData("/admin/")]
    [InlineData("/admin/admin.js")]
    [InlineData("/admin/admin.css")]
    public async Task the_operations_page_may_not_be_framed_runs_only_its_own_code_and_sends_no_referrer(string path)
    {
        var result = await app.Host.Scenario(x =>
        {
            x.Get.Url(path);
            x.StatusCodeShouldBeOk();
        });
        var headers = result.Context.Response.Headers;
        var policy = headers.ContentSecurityPolicy.ToString().Split(';', StringSplitOptions.TrimEntries);
        policy.ShouldContain("frame-ancestors 'none'");
        policy.ShouldContain("script-src 'self'");
        policy.ShouldContain("default-src 'none'");
        policy.ShouldContain(d => d.StartsWith("connect-src 'self'"));
        headers["Referrer-Policy"].ToString().ShouldBe("no-referrer");
        headers.XContentTypeOptions.ToString().ShouldBe("nosniff");
    }
}
