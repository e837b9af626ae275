using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Pantheon.Web.Audit;

namespace Pantheon.IntegrationTests.Audit;

/// <summary>
/// The export writes its JSON by hand; every byte must be the one <see cref="Utf8JsonWriter"/> writes with its default
/// encoder, for the document that renaming and redacting the stored one as a JSON tree gives.
/// </summary>
public class ExportJsonTests
{
    [Fact]
    public void every_ascii_character_and_a_few_others_are_escaped_as_the_writer_escapes_them()
    {
        var texts = Enumerable.Range(0, 128).Select(c => ((char)c).ToString())
            .Concat(["", "plain text", "é", "€", "😀", "\u2028", "\uFFFD", "a\"b\\c/d<e>f&g'h+i`j\u007Fk", "mixed é and 😀 and \n"]);
        foreach (var text in texts)
            Written(text).ShouldBe(WriterWrites(text), $"U+{(text.Length > 0 ? (int)text[0] : 0):X4}");
    }

    [Fact]
    public void invalid_utf8_becomes_the_replacement_character_as_the_writer_writes_it()
    {
        byte[][] texts = [[0x41, 0xFF, 0x42], [0xC3], [0xE2, 0x82], [0xF0, 0x9F, 0x98, 0x41], [0xED, 0xA0, 0x80]];
        foreach (var text in texts)
        {
            var into = new byte[text.Length * ExportJson.Growth + 2];
            var at = 0;
            ExportJson.String(text, into, ref at);
            var expected = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(expected)) writer.WriteStringValue(text.AsSpan());
            Encoding.UTF8.GetString(into, 0, at).ShouldBe(Encoding.UTF8.GetString(expected.WrittenSpan), Convert.ToHexString(text));
        }
    }

    [Theory]
    // PostgreSQL's text form of jsonb: spaces after colons and commas, keys ordered by length, non-ASCII as it is.
    [InlineData("""{"At": "2026-11-27T21:45:56.6018356+00:00", "Model": "openrouter/bench/model", "Content": "hello", "ProjectId": null}""")]
    [InlineData("""{"A": [1, -2.50, 3e+10, true, false, null, {"B": {"CamelCase": []}}], "Empty": {}, "List": [[], [{}]]}""")]
    [InlineData("""{"Text": "quote \" slash \\ solidus \/ controls \b\f\n\r\t \u0001 \u001f é \u00e9 \u20ac \ud83d\ude00 \u2028 <>&'+`"}""")]
    [InlineData("""{"Name\u00e9": 1, "Ünïcode": 2, "With\"Quote": 3, "x+y": 4}""")]
    [InlineData(" {\n\t\"Spaced\" :\r\n [ 1 , 2 ] , \"Out\" : \"x\" } ")]
    public void a_stored_document_is_copied_as_renaming_it_as_a_tree_and_writing_it_gives(string stored) =>
        Transcoded(stored, null).ShouldBe(Expected(stored, null));

    [Theory]
    [InlineData("""{"Key": "sk-secret", "Name": "mine"}""")]
    [InlineData("""{"Key": {"Nested": ["}", "\"]", {"Key": 1}]}, "Name": "mine"}""")]
    [InlineData("""{"Key": [1, [2, {"a": "]"}]], "Name": {"Key": "stays: not top level"}}""")]
    [InlineData("""{"Name": "first", "Key": null}""")]
    [InlineData("""{"Name": "first", "Key": -12.5e3}""")]
    [InlineData("""{"Name": "first", "Key": true}""")]
    public void top_level_secrets_are_redacted_whatever_their_value_and_nested_ones_are_not(string stored) =>
        Transcoded(stored, ["Key"]).ShouldBe(Expected(stored, ["Key"]));

    [Fact]
    public void random_documents_are_copied_as_the_writer_writes_them()
    {
        var random = new Random(20261127);
        const string alphabet = "aZ09 _-\"\\/\b\f\n\r\t\u0001\u001f\u007f<>&'+`éß€\u2028😀🎉中文";
        var elements = new StringInfoRunes(alphabet);
        for (var i = 0; i < 500; i++)
        {
            var document = new JsonObject();
            for (var p = random.Next(1, 8); p > 0; p--)
                document[$"{elements.Text(random, 1, 6)}{p}"] = Value(random, elements, depth: 0);
            // Stored as PostgreSQL stores it: non-ASCII as it is, the few escapes JSON requires.
            var stored = document.ToJsonString(new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
            var secrets = random.Next(3) == 0 ? new HashSet<string>(document.Select(p => p.Key).Take(1)) : null;
            Transcoded(stored, secrets).ShouldBe(Expected(stored, secrets), stored);
        }
    }

    private static JsonNode? Value(Random random, StringInfoRunes elements, int depth) => random.Next(depth > 2 ? 4 : 6) switch
    {
        0 => JsonValue.Create(elements.Text(random, 0, 12)),
        1 => JsonValue.Create(random.Next(-1000, 1000) / (random.Next(2) == 0 ? 1.0 : 8.0)),
        2 => random.Next(2) == 0 ? JsonValue.Create(true) : JsonValue.Create(false),
        3 => null,
        4 => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => Value(random, elements, depth + 1)).ToArray()),
        _ => new JsonObject(Enumerable.Range(0, random.Next(4))
            .Select(n => KeyValuePair.Create($"{elements.Text(random, 1, 4)}{n}", Value(random, elements, depth + 1)))),
    };

    /// <summary>Random text from whole characters of an alphabet (never half a surrogate pair).</summary>
    private sealed class StringInfoRunes(string alphabet)
    {
        private readonly string[] characters = alphabet.EnumerateRunes().Select(r => r.ToString()).ToArray();

        public string Text(Random random, int min, int max) =>
            string.Concat(Enumerable.Range(0, random.Next(min, max + 1)).Select(_ => characters[random.Next(characters.Length)]));
    }

    private static string Written(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var into = new byte[bytes.Length * ExportJson.Growth + 2];
        var at = 0;
        ExportJson.String(bytes, into, ref at);
        return Encoding.UTF8.GetString(into, 0, at);
    }

    private static string WriterWrites(string text)
    {
        var written = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(written)) writer.WriteStringValue(text);
        return Encoding.UTF8.GetString(written.WrittenSpan);
    }

    private static string Transcoded(string stored, HashSet<string>? secrets)
    {
        var bytes = Encoding.UTF8.GetBytes(stored);
        var into = new byte[bytes.Length * ExportJson.Growth + 64 + (secrets?.Count ?? 0) * ExportJson.RedactedLength];
        var at = 0;
        ExportJson.Transcode(bytes, secrets, into, ref at);
        return Encoding.UTF8.GetString(into, 0, at);
    }

    /// <summary>The stored document as a tree, its names in snake_case and its top-level secrets redacted, written by the writer.</summary>
    private static string Expected(string stored, HashSet<string>? secrets)
    {
        var tree = JsonNode.Parse(stored)!;
        var renamed = Renamed(tree)!.AsObject();
        foreach (var (name, _) in tree.AsObject().Where(p => secrets?.Contains(p.Key) == true))
            renamed[JsonNamingPolicy.SnakeCaseLower.ConvertName(name)] = "[redacted]";
        return renamed.ToJsonString();
    }

    private static JsonNode? Renamed(JsonNode? node) => node switch
    {
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(JsonNamingPolicy.SnakeCaseLower.ConvertName(p.Key), Renamed(p.Value)))),
        JsonArray a => new JsonArray(a.Select(Renamed).ToArray()),
        null => null,
        _ => node.DeepClone(),
    };
}
