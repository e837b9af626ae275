using System.Text.Json;
using Pantheon.Domain.Audit;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Tools;

namespace Pantheon.Domain.Tests.Tools;

public class ToolRulesTests
{
    [Theory]
    [InlineData("a/b.txt", "a,b.txt")]
    [InlineData("./a//b", "a,b")]
    [InlineData("dir\\file.txt", "dir,file.txt")]
    public void relative_paths_split_into_their_parts(string path, string parts)
    {
        var (split, error) = ToolRules.SplitPath(path);
        error.ShouldBeNull();
        split.ShouldBe(parts.Split(','));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("a/../../x")]
    [InlineData("a\\..\\..\\x")]
    [InlineData("/etc/passwd")]
    [InlineData("\\\\server\\share")]
    [InlineData("C:\\Windows")]
    [InlineData("a\0b")]
    [InlineData("")]
    [InlineData(null)]
    public void escaping_absolute_and_empty_paths_are_refused(string? path) => ToolRules.SplitPath(path).Error.ShouldNotBeNull();

    [Fact]
    public void the_folder_itself_is_a_path_only_where_it_is_allowed() => ToolRules.SplitPath("", allowRoot: true).Error.ShouldBeNull();

    [Fact]
    public void recorded_arguments_redact_secrets_and_keep_only_the_size_of_contents()
    {
        var arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(
            """{"path":"a.txt","content":"top secret text","api_key":"sk-123","password":"hunter2","x":5}""")!;
        var recorded = ToolRules.RecordedArguments(arguments);
        recorded.ShouldNotContain("top secret text");
        recorded.ShouldNotContain("sk-123");
        recorded.ShouldNotContain("hunter2");
        recorded.ShouldContain("[15 characters]");
        recorded.ShouldContain("\"path\":\"a.txt\"");
        recorded.ShouldContain("\"x\":5");
    }

    [Fact]
    public void tool_events_read_as_one_line_in_the_audit()
    {
        var id = Guid.NewGuid();
        AuditText.Summary(new ToolCalled(id, id, "read_file", """{"path":"a"}""", DateTimeOffset.UnixEpoch))
            .ShouldBe("""tool read_file called with {"path":"a"}""");
        AuditText.Summary(new ToolReturned(id, id, "read_file", null, "path must not contain '..'", 3, DateTimeOffset.UnixEpoch))
            .ShouldBe("tool read_file failed in 3 ms: path must not contain '..'");
    }

    [Theory]
    [InlineData("ctrl+c", new uint[] { 0xffe3, 0x63 })]
    [InlineData("Return", new uint[] { 0xff0d })]
    [InlineData("alt+F4", new uint[] { 0xffe9, 0xffc1 })]
    [InlineData("ctrl+shift+T", new uint[] { 0xffe3, 0xffe1, 0x74 })]
    [InlineData("super", new uint[] { 0xffeb })]
    [InlineData("ctrl++", new uint[] { 0xffe3, 0x2b })]
    public void key_combinations_become_x11_keysyms_in_pressing_order(string keys, uint[] expected)
    {
        var (parsed, error) = KeySyms.ParseCombination(keys);
        error.ShouldBeNull();
        parsed.ShouldBe(expected);
    }

    [Theory]
    [InlineData("ctrl+nonsense")]
    [InlineData("ctrl+")]
    [InlineData("")]
    [InlineData("f25")]
    public void unknown_keys_are_refused(string keys) => KeySyms.ParseCombination(keys).Error.ShouldNotBeNull();

    [Theory]
    [InlineData('a', 0x61u)]
    [InlineData('\n', 0xff0du)]
    [InlineData('é', 0xe9u)]
    [InlineData('€', 0x010020acu)]
    public void characters_have_their_keysyms(char c, uint keysym) => KeySyms.ForChar(c).ShouldBe(keysym);
}
