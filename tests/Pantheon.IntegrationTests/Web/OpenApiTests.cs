using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alba;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;

namespace Pantheon.IntegrationTests.Web;

/// <summary>The document at <c>/openapi/v1.json</c>, from which the frontend builds its typed client, tells the truth.</summary>
[Collection(AppCollection.Name)]
public class OpenApiTests(AppFixture app)
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];

    [Fact]
    public async Task every_api_operation_takes_a_bearer_token_and_declares_its_401()
    {
        var document = await Document();
        var scheme = document["components"]!["securitySchemes"]!["Bearer"]!;
        scheme["type"]!.GetValue<string>().ShouldBe("http");
        scheme["scheme"]!.GetValue<string>().ShouldBe("bearer");

        var operations = Operations(document).Where(o => o.Path.StartsWith("/api", StringComparison.Ordinal)).ToList();
        operations.Count.ShouldBeGreaterThanOrEqualTo(20);
        foreach (var (path, method, operation) in operations)
        {
            var security = operation["security"]?.AsArray().Select(r => r!.AsObject().Select(p => p.Key).Single()).ToList();
            security.ShouldBe(["Bearer"], $"{method} {path}");
            ProblemSchema(operation, "401").ShouldBe("ProblemDetails", $"{method} {path}");
            ProblemSchema(operation, "429").ShouldBe("ProblemDetails", $"{method} {path}");
        }
        ProblemSchema(Operation(document, "get", "/api/admin/sagas"), "403").ShouldBe("ProblemDetails");
    }

    [Fact]
    public async Task every_error_response_is_a_problem_and_conventions_follow_the_operations_shape()
    {
        var document = await Document();
        foreach (var (path, method, operation) in Operations(document))
        {
            foreach (var (status, response) in operation["responses"]!.AsObject().Where(r => int.Parse(r.Key) >= 400))
                response!["content"]!.AsObject().Select(c => c.Key).ShouldBe(["application/problem+json"], $"{method} {path} {status}");
            var responses = operation["responses"]!.AsObject();
            if (operation["requestBody"] is not null)
            {
                ProblemSchema(operation, "400").ShouldBe("HttpValidationProblemDetails", $"{method} {path}");
                responses.ContainsKey("413").ShouldBeTrue($"{method} {path}");
                responses.ContainsKey("415").ShouldBeTrue($"{method} {path}");
            }
            if (path.Contains('{')) responses.ContainsKey("404").ShouldBeTrue($"{method} {path}");
        }

        var chat = Operation(document, "post", "/api/chat")["responses"]!.AsObject();
        new[] { "200", "400", "401", "404", "413", "415", "422", "429", "502", "504" }.ShouldBeSubsetOf(chat.Select(r => r.Key));
        // Wolverine's guessed bodiless 404 is gone where nothing can be missing.
        Operation(document, "get", "/api/me")["responses"]!.AsObject().ContainsKey("404").ShouldBeFalse();
    }

    [Fact]
    public async Task every_success_response_has_its_real_schema()
    {
        var document = await Document();
        var clear = Operation(document, "delete", "/api/chat/history")["responses"]!.AsObject();
        clear.ContainsKey("204").ShouldBeTrue();
        clear.ContainsKey("200").ShouldBeFalse();
        Operation(document, "delete", "/api/user/models/{id}")["responses"]!.AsObject().ContainsKey("204").ShouldBeTrue();

        var chat = Operation(document, "post", "/api/chat")["responses"]!["200"]!["content"]!;
        Reference(chat["application/json"]!["schema"]).ShouldBe("ChatReply");
        chat["text/event-stream"]!["schema"]!["type"]!.GetValue<string>().ShouldBe("string");
        Reference(Operation(document, "get", "/api/chat/history")["responses"]!["200"]!["content"]!["application/json"]!["schema"])
            .ShouldBe("ChatHistoryResponse");
        Reference(OkJson(document, "get", "/api/audit")).ShouldBe("AuditPage");
        Reference(OkJson(document, "get", "/api/projects/{id}/events")!["items"]).ShouldBe("ProjectEvent");
        Operation(document, "post", "/api/projects")["responses"]!.AsObject().ContainsKey("202").ShouldBeTrue();
        Operation(document, "post", "/api/user/api-keys")["responses"]!.AsObject().ContainsKey("201").ShouldBeTrue();
        document["components"]!["schemas"]!.AsObject().ContainsKey("IResult").ShouldBeFalse();

        foreach (var (path, method, operation) in Operations(document))
        {
            operation["responses"]!.AsObject().Any(r => r.Key.StartsWith('2')).ShouldBeTrue($"{method} {path} declares no success");
            foreach (var (status, response) in operation["responses"]!.AsObject().Where(r => r.Key.StartsWith('2') && r.Key != "204"))
            {
                foreach (var (type, media) in response!["content"]!.AsObject())
                {
                    media!["schema"]!.ToJsonString()
                        .ShouldNotBe("{\"type\":\"object\"}", $"{method} {path} {status} {type} is a bare object");
                }
            }
        }
    }

    [Fact]
    public async Task optional_request_fields_are_optional_and_demanded_ones_required()
    {
        var schemas = (await Document())["components"]!["schemas"]!;
        Required(schemas["SendChat"]).ShouldBe(["message"]);
        schemas["SendChat"]!["properties"]!["message"]!["type"]!.GetValue<string>().ShouldBe("string");
        Required(schemas["UpdateSettings"]).ShouldBeEmpty();
        Required(schemas["CreateProject"]).ShouldBe(["name"]);
        Required(schemas["AddApiKey"]).ShouldBe(["key", "name", "provider"], ignoreOrder: true);
        Required(schemas["AddCustomModel"]).ShouldBe(["endpoint", "model_id", "provider"], ignoreOrder: true);
        // A response's nullable field may be absent; the rest is always there.
        Required(schemas["ProjectResponse"]).ShouldBe(["created_at", "id", "name", "os", "status", "updated_at"], ignoreOrder: true);
    }

    [Fact]
    public async Task tool_approval_is_a_mode_or_a_list_of_the_tools_api_tool_names_and_input_modalities_text_or_image()
    {
        var schemas = (await Document())["components"]!["schemas"]!;
        Required(schemas["SetProjectSettings"]).ShouldBe(["tool_approval"]);
        foreach (var type in new[] { "SetProjectSettings", "ProjectSettingsResponse" })
        {
            var property = schemas[type]!["properties"]!["tool_approval"]!;
            var approval = Reference(property) is { } name ? schemas[name]! : property;
            approval["type"].ShouldBeNull(approval.ToJsonString());
            var oneOf = approval["oneOf"]!.AsArray();
            oneOf.Count.ShouldBe(2, type);
            oneOf[0]!["type"]!.GetValue<string>().ShouldBe("string", type);
            oneOf[0]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(["never", "always"], type);
            oneOf[1]!["type"]!.GetValue<string>().ShouldBe("array", type);
            oneOf[1]!["items"]!["type"]!.GetValue<string>().ShouldBe("string", type);
            oneOf[1]!["items"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(Pantheon.Domain.Tools.ToolNames.All, type);
        }
        // A custom model's declared input modalities are OpenRouter's words, and only those it takes from a user.
        var modalities = schemas["AddCustomModel"]!["properties"]!["input_modalities"]!;
        modalities["items"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()).ShouldBe(["text", "image"]);
        schemas["CustomModelResponse"]!["properties"]!["input_modalities"].ShouldNotBeNull();
        schemas["ModelResponse"]!["properties"]!["input_modalities"]!["items"]!["enum"].ShouldBeNull();
        // Any JSON elsewhere (a custom model's parameters) stays any JSON.
        schemas["JsonElement"]?["oneOf"].ShouldBeNull();
    }

    [Fact]
    public async Task integers_are_integers_and_the_server_url_has_no_trailing_slash()
    {
        var document = await Document();
        var types = Descendants(document).OfType<JsonObject>().Select(o => o["type"]).OfType<JsonArray>()
            .Select(a => a.Select(t => t!.GetValue<string>()).ToList()).ToList();
        types.ShouldNotBeEmpty();
        types.ShouldAllBe(t => !(t.Contains("string") && (t.Contains("integer") || t.Contains("number"))));
        document["components"]!["schemas"]!["ModelParameters"]!["properties"]!["max_tokens"]!["type"]!.AsArray()
            .Select(t => t!.GetValue<string>()).ShouldBe(["integer", "null"], ignoreOrder: true);

        var servers = document["servers"]!.AsArray().Select(s => s!["url"]!.GetValue<string>()).ToList();
        servers.ShouldNotBeEmpty();
        servers.ShouldAllBe(url => !url.EndsWith('/'));

        // The JSON options behind the document: a quoted number is refused, not read.
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var refused = await app.Host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Put.Text("""{"model_parameters":{"max_tokens":"100"}}""").ToUrl("/api/user/settings");
            x.WithRequestHeader("Content-Type", "application/json");
            x.StatusCodeShouldBe(400);
        });
        refused.Context.Response.ContentType.ShouldStartWith("application/problem+json");
    }

    /// <summary>
    /// The recorder in every test host captured the answers of this run so far (this test's tour of the API among them):
    /// each must be declared by the document and match its schema. <see cref="AppFixture.DisposeAsync"/> checks the
    /// whole run again at its end.
    /// </summary>
    [Fact]
    public async Task the_real_responses_match_the_schemas_the_document_declares()
    {
        var before = ResponseRecorder.All.Count;
        await TourOfTheApi();
        var tour = ResponseRecorder.All.Skip(before).ToList();

        // Not vacuous: many answers across many operations, successes and problems, JSON and a stream.
        tour.Count.ShouldBeGreaterThanOrEqualTo(30);
        tour.Where(r => r.Route is not null).Select(r => (r.Method, r.Route)).Distinct().Count().ShouldBeGreaterThanOrEqualTo(20);
        new[] { 200, 201, 202, 204, 400, 401, 403, 404, 415, 422 }.ShouldBeSubsetOf(tour.Select(r => r.Status).Distinct());
        tour.ShouldContain(r => r.ContentType != null && r.ContentType.StartsWith("text/event-stream"));
        tour.ShouldContain(r => r.ContentType != null && r.ContentType.StartsWith("application/problem+json"));

        var contract = await OpenApiContract.FromAsync(app.Host);
        var violations = contract.CheckAll(ResponseRecorder.All);
        violations.ShouldBeEmpty(string.Join('\n', violations));
    }

    [Fact]
    public async Task a_deliberately_wrong_document_fails_the_check()
    {
        var token = TestSettings.TokenFor(TestSettings.NewUser());
        var before = ResponseRecorder.All.Count;
        await app.Host.Send(HttpMethod.Get, "/api/me", token);
        await app.Host.Send(HttpMethod.Get, "/api/me", token: null, status: 401);
        await app.Host.Send(HttpMethod.Delete, "/api/chat/history", token, status: 204);
        var recorded = ResponseRecorder.All.Skip(before).ToList();
        var me = recorded.First(r => r.Route == "/api/me" && r.Status == 200);
        var anonymous = recorded.First(r => r.Route == "/api/me" && r.Status == 401);
        var cleared = recorded.First(r => r.Route == "/api/chat/history" && r.Status == 204);

        var text = await OpenApiContract.FetchAsync(app.Host);
        new OpenApiContract(text).CheckAll([me, anonymous, cleared]).ShouldBeEmpty();

        // A property of the wrong type: the body does not match.
        Wrong(text, d => Schema(d, "UserProfileResponse")["properties"]!["id"] = new JsonObject { ["type"] = "integer" })
            .Check(me).ShouldHaveSingleItem().ShouldContain("/id");
        // A required property the answer lacks.
        Wrong(text, d => Schema(d, "UserProfileResponse")["required"]!.AsArray().Add("nickname"))
            .Check(me).ShouldHaveSingleItem().ShouldContain("nickname");
        // An undeclared status.
        Wrong(text, d => d["paths"]!["/api/me"]!["get"]!["responses"]!.AsObject().Remove("401"))
            .Check(anonymous).ShouldHaveSingleItem().ShouldContain("status 401 is not declared");
        // The 204 declared as 200 again, as it once was.
        Wrong(text, d =>
            {
                var responses = d["paths"]!["/api/chat/history"]!["delete"]!["responses"]!.AsObject();
                responses.Remove("204");
                responses["200"] = JsonNode.Parse("""{"description":"OK","content":{"application/json":{"schema":{"type":"object"}}}}""");
            })
            .Check(cleared).ShouldHaveSingleItem().ShouldContain("status 204 is not declared");
        // Another content type than the one answered.
        Wrong(text, d =>
            {
                var content = d["paths"]!["/api/me"]!["get"]!["responses"]!["401"]!["content"]!.AsObject();
                var media = content["application/problem+json"]!.DeepClone();
                content.Remove("application/problem+json");
                content["application/json"] = media;
            })
            .Check(anonymous).ShouldHaveSingleItem().ShouldContain("content type 'application/problem+json' is not declared");
    }

    [Fact]
    public async Task the_document_passes_the_recommended_lint_ruleset()
    {
        var file = Path.Combine(Path.GetTempPath(), $"pantheon-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, await OpenApiContract.FetchAsync(app.Host));
        try
        {
            var info = new ProcessStartInfo("bash", [Path.Combine(PantheonCli.RepositoryRoot(), "scripts", "openapi-lint.sh"), file])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            // The first run installs the pinned linter from npm.
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(8));
            var report = await output + await error;
            process.ExitCode.ShouldBe(0, report);
            report.ShouldContain("Your API description is valid");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Answers of many kinds from many operations, each as a client would cause them.</summary>
    private async Task TourOfTheApi()
    {
        var user = TestSettings.NewUser();
        var token = TestSettings.TokenFor(user, $"{user}@example.test", "Tour");
        var admin = TestSettings.TokenFor(TestSettings.NewUser("admin"), null, null, AuthSettings.AdminRole);
        var host = app.Host;
        app.Fake.Behavior = new FakeBehavior();

        await host.Send(HttpMethod.Get, "/api/me", token);
        await host.Send(HttpMethod.Get, "/api/me", token: null, status: 401);
        await host.Send(HttpMethod.Get, "/api/user/settings", token);
        await host.Send(HttpMethod.Put, "/api/user/settings", token, new { model_parameters = new { temperature = 0.4 } });
        await host.ShouldRejectField(HttpMethod.Put, "/api/user/settings", token, """{"preferred_model":""}""", "preferred_model");

        var key = await (await host.Send(HttpMethod.Post, "/api/user/api-keys", token,
            new { name = "tour", provider = "openai", key = "sk-tour-0123456789" }, status: 201)).ReadAsJsonAsync<JsonElement>();
        await host.Send(HttpMethod.Get, "/api/user/api-keys", token);
        await host.Send(HttpMethod.Delete, $"/api/user/api-keys/{key.GetProperty("id").GetGuid()}", token, status: 204);
        await host.Send(HttpMethod.Delete, $"/api/user/api-keys/{Guid.NewGuid()}", token, status: 404);
        await host.Scenario(x =>
        {
            x.WithBearerToken(token);
            x.Post.Text("name=x").ToUrl("/api/user/api-keys");
            x.WithRequestHeader("Content-Type", "application/x-www-form-urlencoded");
            x.StatusCodeShouldBe(415);
        });

        var model = await (await host.Send(HttpMethod.Post, "/api/user/models", token,
            new { model_id = "tour-model", provider = "openai-compatible", endpoint = "https://models.example.test/v1" }, status: 201))
            .ReadAsJsonAsync<JsonElement>();
        await host.Send(HttpMethod.Get, "/api/user/models", token);
        await host.Send(HttpMethod.Get, "/api/models", token);
        await host.Send(HttpMethod.Delete, $"/api/user/models/{model.GetProperty("id").GetGuid()}", token, status: 204);

        await host.Send(HttpMethod.Post, "/api/chat", token, new { message = "hello", model = "mistralai/mixtral-8x7b" });
        await StreamChat(token, new { message = "stream it", model = "mistralai/mixtral-8x7b" });
        await host.Send(HttpMethod.Post, "/api/chat", token, new { message = "no key", model = "openai/gpt-4o" }, status: 422);
        await host.Send(HttpMethod.Post, "/api/chat", token, new { message = "where", project_id = Guid.NewGuid() }, status: 404);
        await host.ShouldRejectField(HttpMethod.Post, "/api/chat", token, """{"message":""}""", "message");
        await host.Send(HttpMethod.Get, "/api/chat/history", token);
        await host.Send(HttpMethod.Get, $"/api/chat/history?project_id={Guid.NewGuid()}", token, status: 404);
        await host.Send(HttpMethod.Delete, "/api/chat/history", token, status: 204);
        await host.Send(HttpMethod.Get, "/api/user/usage", token);

        await host.Send(HttpMethod.Get, "/api/projects", token);
        await host.ShouldRejectField(HttpMethod.Post, "/api/projects", token, """{"name":""}""", "name");
        await host.Send(HttpMethod.Get, $"/api/projects/{Guid.NewGuid()}", token, status: 404);
        await host.Send(HttpMethod.Get, $"/api/projects/{Guid.NewGuid()}/events", token, status: 404);
        await host.Send(HttpMethod.Delete, $"/api/projects/{Guid.NewGuid()}", token, status: 404);

        await host.Send(HttpMethod.Get, "/api/audit", token);
        await host.Send(HttpMethod.Get, "/api/audit?limit=0", token, status: 400);
        await host.Send(HttpMethod.Get, "/api/admin/sagas", token, status: 403);
        await host.Send(HttpMethod.Get, "/api/admin/sagas", admin);
        await host.Send(HttpMethod.Get, "/api/audit?user=someone", admin);

        // A project is accepted at once; its deletion too (the saga works on in the background).
        var project = await (await host.Send(HttpMethod.Post, "/api/projects", token, new { name = "tour" }, status: 202))
            .ReadAsJsonAsync<JsonElement>();
        var id = project.GetProperty("id").GetGuid();
        await host.Send(HttpMethod.Get, $"/api/projects/{id}", token);
        await host.Send(HttpMethod.Get, $"/api/projects/{id}/events", token);
        await host.Send(HttpMethod.Put, $"/api/projects/{id}/settings", token, new { tool_approval = new[] { "type_text", "write_file" } });
        await host.Send(HttpMethod.Get, $"/api/projects/{id}/settings", token);
        await host.Send(HttpMethod.Put, $"/api/projects/{id}/settings", token, new { tool_approval = "always" });
        await host.ShouldRejectField(HttpMethod.Put, $"/api/projects/{id}/settings", token, """{"tool_approval":["format_disk"]}""", "tool_approval");
        await host.Send(HttpMethod.Delete, $"/api/projects/{id}", token, status: 202);
    }

    private async Task StreamChat(string token, object body)
    {
        var client = app.Host.Server.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/chat")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await client.SendAsync(request);
        ((int)response.StatusCode).ShouldBe(200);
        (await response.Content.ReadAsStringAsync()).ShouldContain("event: done");
    }

    private async Task<JsonObject> Document() => new OpenApiContract(await OpenApiContract.FetchAsync(app.Host)).Document;

    private static OpenApiContract Wrong(string document, Action<JsonObject> change)
    {
        var node = JsonNode.Parse(document)!.AsObject();
        change(node);
        return new OpenApiContract(node.ToJsonString());
    }

    private static IEnumerable<(string Path, string Method, JsonObject Operation)> Operations(JsonObject document) =>
        document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject()
            .Where(o => Methods.Contains(o.Key))
            .Select(o => (p.Key, o.Key, o.Value!.AsObject())));

    private static JsonObject Operation(JsonObject document, string method, string path) => document["paths"]![path]![method]!.AsObject();

    private static string? ProblemSchema(JsonObject operation, string status) =>
        Reference(operation["responses"]?[status]?["content"]?["application/problem+json"]?["schema"]);

    private static string? Reference(JsonNode? schema) => schema?["$ref"]?.GetValue<string>().Split('/')[^1];

    private static List<string> Required(JsonNode? schema) =>
        schema?["required"]?.AsArray().Select(r => r!.GetValue<string>()).ToList() ?? [];

    private static JsonNode Schema(JsonObject document, string name) => document["components"]!["schemas"]![name]!;

    private static JsonNode? OkJson(JsonObject document, string method, string path) =>
        Operation(document, method, path)["responses"]!["200"]!["content"]!["application/json"]!["schema"];

    private static IEnumerable<JsonNode> Descendants(JsonNode node)
    {
        yield return node;
        var children = node switch
        {
            JsonObject o => o.Select(p => p.Value),
            JsonArray a => a.AsEnumerable(),
            _ => [],
        };
        foreach (var child in children.OfType<JsonNode>())
        foreach (var descendant in Descendants(child))
            yield return descendant;
    }
}
