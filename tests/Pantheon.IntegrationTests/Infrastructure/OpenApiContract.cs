using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alba;
using Json.Schema;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>
/// Holds a real response against what the OpenAPI document declares for it: its operation must be in the document,
/// its status declared, its content type one of that response's, and its body valid against that schema (JSON
/// Schema 2020-12, which OpenAPI 3.1 uses); a response that declares content must not come back empty.
/// </summary>
public sealed class OpenApiContract
{
    private static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    private readonly JsonObject _document;
    private readonly JsonObject _definitions;
    private readonly BuildOptions _build = new();
    private readonly ConcurrentDictionary<string, JsonSchema> _schemas = new();

    public OpenApiContract(string document)
    {
        _document = JsonNode.Parse(document)?.AsObject() ?? throw new ArgumentException("The document is not a JSON object.");
        // The component schemas become the $defs of each response schema, so that references resolve inside it.
        _definitions = _document["components"]?["schemas"]?.DeepClone() as JsonObject ?? [];
        PointIntoDefinitions(_definitions);
    }

    public JsonObject Document => _document;

    public static async Task<string> FetchAsync(IAlbaHost host)
    {
        var result = await host.Scenario(x =>
        {
            x.Get.Url("/openapi/v1.json");
            x.StatusCodeShouldBeOk();
        });
        return await result.ReadAsTextAsync();
    }

    public static async Task<OpenApiContract> FromAsync(IAlbaHost host) => new(await FetchAsync(host));

    /// <summary>What is wrong with each response, one line per fault; empty when all match.</summary>
    public IReadOnlyList<string> CheckAll(IEnumerable<RecordedResponse> responses) => responses.SelectMany(Check).ToList();

    public IReadOnlyList<string> Check(RecordedResponse response)
    {
        // No endpoint matched (an unknown route): there is no operation to hold the answer to.
        if (response.Route is null) return [];
        var method = response.Method.ToLowerInvariant();
        if (_document["paths"]?[response.Route]?[method] is not JsonObject operation)
            return [$"{response}: {response.Method} {response.Route} is not in the document"];

        var responses = operation["responses"] as JsonObject ?? [];
        var status = response.Status.ToString(CultureInfo.InvariantCulture);
        if ((responses[status] ?? responses["default"]) is not JsonObject declared)
            return [$"{response}: status {status} is not declared for {response.Method} {response.Route} (declared: {Keys(responses)})"];

        var content = declared["content"] as JsonObject ?? [];
        if (response.Body.Length == 0)
            return content.Count > 0 && !response.Aborted ? [$"{response}: the body is empty, but {status} declares {Keys(content)}"] : [];
        if (content.Count == 0) return [$"{response}: a body came back, but {status} declares no content"];

        var mediaType = response.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is null || content[mediaType] is not JsonObject media)
            return [$"{response}: content type '{mediaType}' is not declared for {status} (declared: {Keys(content)})"];
        if (response.Truncated || response.Aborted || media["schema"] is not { } schemaNode) return [];

        JsonElement instance;
        var text = Encoding.UTF8.GetString(response.Body);
        if (IsJson(mediaType))
        {
            try
            {
                instance = JsonDocument.Parse(text).RootElement;
            }
            catch (JsonException e)
            {
                return [$"{response}: the body is not JSON: {e.Message}"];
            }
        }
        else
        {
            instance = JsonSerializer.SerializeToElement(text); // text/event-stream, text/plain: the schema describes a string
        }

        var key = $"{method} {response.Route} {status} {mediaType}";
        var schema = _schemas.GetOrAdd(key, _ => Build(schemaNode));
        var result = schema.Evaluate(instance, Evaluation);
        if (result.IsValid) return [];
        var errors = (result.Details ?? [])
            .Where(d => d.Errors is { Count: > 0 })
            .Select(d => $"{response}: at '{d.InstanceLocation}' {string.Join("; ", d.Errors!.Values)}")
            .ToList();
        return errors.Count > 0 ? errors : [$"{response}: the body does not match the schema of {key}"];
    }

    private JsonSchema Build(JsonNode schemaNode)
    {
        var root = schemaNode.DeepClone() as JsonObject ?? new JsonObject { ["allOf"] = new JsonArray(schemaNode.DeepClone()) };
        PointIntoDefinitions(root);
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["$defs"] = _definitions.DeepClone();
        // A base URI of its own: schemas built from two documents (a deliberately wrong one among them) never meet.
        return JsonSchema.FromText(root.ToJsonString(), _build, new Uri($"https://pantheon.test/openapi/{Guid.NewGuid():N}"));
    }

    private static void PointIntoDefinitions(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["$ref"] is JsonValue reference && reference.TryGetValue<string>(out var target)
                    && target.StartsWith("#/components/schemas/", StringComparison.Ordinal))
                    obj["$ref"] = "#/$defs/" + target["#/components/schemas/".Length..];
                foreach (var (_, child) in obj.ToList()) PointIntoDefinitions(child);
                break;
            case JsonArray array:
                foreach (var child in array) PointIntoDefinitions(child);
                break;
        }
    }

    private static bool IsJson(string mediaType) =>
        mediaType == "application/json" || mediaType.EndsWith("+json", StringComparison.Ordinal);

    private static string Keys(JsonObject obj) => string.Join(", ", obj.Select(p => p.Key));
}
