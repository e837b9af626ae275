using System.Buffers.Binary;
using System.Diagnostics;
using System.IO.Compression;
using System.Text.Json;
using Marten;
using Microsoft.Extensions.DependencyInjection;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Pantheon.Domain.Tools;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.Tools.Screen;

namespace Pantheon.IntegrationTests.Tools;

[Collection(ToolsCollection.Name)]
public class ToolsApiTests(ToolsFixture tools)
{
    [Fact]
    public async Task the_tools_apis_connections_prepare_a_statement_they_run_again_and_again()
    {
        await using var connection = tools.Tools.Services.GetRequiredService<IDocumentStore>().Storage.Database.CreateConnection();
        await connection.OpenAsync();
        (await PreparedStatementTests.PreparedAfterRepeatedUse(connection)).ShouldBeGreaterThan(0);
    }

    // What tool_approval may name is what the server registers: the shared list, not a copy of it.
    private static readonly string[] AllTools = [.. ToolNames.All.Order()];

    [Fact]
    public async Task the_backend_lists_the_tools_and_takes_a_png_screenshot_of_the_desktop_vm()
    {
        var project = await tools.ProjectAsync();
        await using var client = await tools.ClientAsync(project.Secret);

        var listed = await client.ListToolsAsync();
        listed.Select(t => t.Name).Order().ShouldBe(AllTools);
        listed.Single(t => t.Name == "mouse_click").JsonSchema.GetProperty("properties").TryGetProperty("double", out _).ShouldBeTrue();

        var result = await client.CallToolAsync("screenshot");
        result.IsError.ShouldNotBe(true);
        var image = result.Content.OfType<ImageContentBlock>().ShouldHaveSingleItem();
        image.MimeType.ShouldBe("image/png");
        var (width, height, pixels) = DecodePng(image.DecodedData.ToArray());
        (width, height).ShouldBe((1024, 768));
        // Not one flat colour: the xterm and its text are on the screen.
        pixels.Distinct().Count().ShouldBeGreaterThan(2);
    }

    [Fact]
    public async Task a_click_and_typed_text_reach_the_xterm_which_writes_a_file_that_read_file_returns()
    {
        var project = await tools.ProjectAsync();
        await using var client = await tools.ClientAsync(project.Secret);
        var marker = $"typed-{Guid.NewGuid():N}";
        await tools.XtermShownAsync(project);

        (await client.CallToolAsync("mouse_click", Args(new { x = 300, y = 200 }))).IsError.ShouldNotBe(true);
        (await client.CallToolAsync("type_text", Args(new { text = $"echo {marker} > /shared/{marker}.txt" }))).IsError.ShouldNotBe(true);
        (await client.CallToolAsync("key_press", Args(new { keys = "Return" }))).IsError.ShouldNotBe(true);

        var read = await Eventually.Get(() => client.CallToolAsync("read_file", Args(new { path = $"{marker}.txt" })).AsTask(),
            r => r.IsError != true, TimeSpan.FromSeconds(20), "the file the xterm writes");
        var body = JsonDocument.Parse(Text(read)).RootElement;
        body.GetProperty("content").GetString().ShouldBe(marker + "\n");
        body.GetProperty("encoding").GetString().ShouldBe("utf-8");
    }

    [Fact]
    public async Task files_are_written_listed_read_and_deleted_inside_the_shared_folder()
    {
        var project = await tools.ProjectAsync();
        await using var client = await tools.ClientAsync(project.Secret);

        (await client.CallToolAsync("write_file", Args(new { path = "notes/a.txt", content = "hello" }))).IsError.ShouldNotBe(true);
        File.ReadAllText(Path.Combine(project.Folder, "notes", "a.txt")).ShouldBe("hello");
        (await client.CallToolAsync("write_file", Args(new { path = "notes/b.bin", content = Convert.ToBase64String([0, 255, 1]), encoding = "base64" })))
            .IsError.ShouldNotBe(true);
        var listing = JsonDocument.Parse(Text(await client.CallToolAsync("list_files", Args(new { path = "notes" })))).RootElement;
        listing.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ShouldBe(["a.txt", "b.bin"]);
        var binary = JsonDocument.Parse(Text(await client.CallToolAsync("read_file", Args(new { path = "notes/b.bin" })))).RootElement;
        binary.GetProperty("encoding").GetString().ShouldBe("base64");
        Convert.FromBase64String(binary.GetProperty("content").GetString()!).ShouldBe(new byte[] { 0, 255, 1 });
        (await client.CallToolAsync("delete_file", Args(new { path = "notes/a.txt" }))).IsError.ShouldNotBe(true);
        File.Exists(Path.Combine(project.Folder, "notes", "a.txt")).ShouldBeFalse();
        var root = JsonDocument.Parse(Text(await client.CallToolAsync("list_files"))).RootElement;
        root.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ShouldContain(".env");
    }

    [Theory]
    [InlineData("read_file", "{\"path\":\"../../../etc/passwd\"}", "'..'")]
    [InlineData("read_file", "{\"path\":\"/etc/passwd\"}", "relative")]
    [InlineData("write_file", "{\"path\":\"C:\\\\Windows\\\\x\",\"content\":\"x\"}", "relative")]
    [InlineData("list_files", "{\"path\":\"sub/../..\"}", "'..'")]
    [InlineData("delete_file", "{\"path\":\"\"}", "shared folder itself")]
    [InlineData("read_file", "{\"path\":\"out/passwd\"}", "symbolic link")]
    [InlineData("read_file", "{\"path\":\"passwd-link\"}", "symbolic link")]
    [InlineData("write_file", "{\"path\":\"out/evil\",\"content\":\"x\"}", "symbolic link")]
    [InlineData("write_file", "{\"path\":\"passwd-link\",\"content\":\"x\"}", "symbolic link")]
    [InlineData("write_file", "{\"path\":\"x\",\"content\":\"!!\",\"encoding\":\"base64\"}", "base64")]
    [InlineData("write_file", "{\"path\":\"x\",\"content\":\"x\",\"encoding\":\"latin1\"}", "encoding")]
    [InlineData("mouse_click", "{\"x\":-1,\"y\":5}", "outside")]
    [InlineData("mouse_click", "{\"x\":5,\"y\":5000}", "outside")]
    [InlineData("mouse_click", "{\"x\":5,\"y\":5,\"button\":\"sideways\"}", "button")]
    [InlineData("key_press", "{\"keys\":\"ctrl+nonsense\"}", "not a key name")]
    [InlineData("key_press", "{\"keys\":\"\"}", "keys is required")]
    [InlineData("type_text", "{\"text\":\"\"}", "text is required")]
    [InlineData("mouse_move", "{\"x\":\"left\",\"y\":1}", "")]
    [InlineData("read_file", "{}", "")]
    public async Task escapes_links_out_and_bad_arguments_are_tool_errors(string tool, string arguments, string reason)
    {
        var project = await tools.ProjectAsync();
        // Links the VM could make: a directory and a file outside the shared folder.
        if (!Path.Exists(Path.Combine(project.Folder, "out"))) File.CreateSymbolicLink(Path.Combine(project.Folder, "out"), "/etc");
        if (!Path.Exists(Path.Combine(project.Folder, "passwd-link"))) File.CreateSymbolicLink(Path.Combine(project.Folder, "passwd-link"), "/etc/passwd");
        var before = File.ReadAllText("/etc/passwd");
        await using var client = await tools.ClientAsync(project.Secret);

        var result = await client.CallToolAsync(tool, JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments));

        result.IsError.ShouldBe(true);
        Text(result).ShouldContain(reason);
        File.ReadAllText("/etc/passwd").ShouldBe(before);
        File.Exists("/etc/evil").ShouldBeFalse();
    }

    [Fact]
    public async Task a_write_over_the_limit_is_refused_and_one_at_the_limit_is_not()
    {
        var project = await tools.ProjectAsync();
        await using var client = await tools.ClientAsync(project.Secret);

        var over = await client.CallToolAsync("write_file", Args(new { path = "big.txt", content = new string('a', (int)ToolsFixture.MaxWriteBytes + 1) }));
        over.IsError.ShouldBe(true);
        Text(over).ShouldContain("Tools:MaxWriteBytes");
        File.Exists(Path.Combine(project.Folder, "big.txt")).ShouldBeFalse();

        var at = await client.CallToolAsync("write_file", Args(new { path = "big.txt", content = new string('a', (int)ToolsFixture.MaxWriteBytes) }));
        at.IsError.ShouldNotBe(true);
    }

    [Fact]
    public async Task every_call_is_on_the_project_timeline_without_file_contents_or_screenshots()
    {
        var project = await tools.ProjectAsync();
        await using var client = await tools.ClientAsync(project.Secret);
        var secretText = $"content-{Guid.NewGuid():N}";

        await client.CallToolAsync("write_file", Args(new { path = "timeline.txt", content = secretText }));
        await client.CallToolAsync("read_file", Args(new { path = "../nope" }));
        await client.CallToolAsync("screenshot");

        var events = await tools.Host.GetJson<JsonElement>($"/api/projects/{project.Id}/events", project.Token);
        var raw = events.GetRawText();
        raw.ShouldNotContain(secretText);
        raw.ShouldNotContain("iVBORw0KGgo"); // a PNG's base64 start
        var tool = events.EnumerateArray().Where(e => e.GetProperty("type").GetString()!.StartsWith("tool_")).ToList();
        var write = tool.First(e => e.GetProperty("type").GetString() == "tool_called" && e.GetProperty("data").GetProperty("tool").GetString() == "write_file"
            && e.GetProperty("data").GetProperty("arguments").GetString()!.Contains("timeline.txt"));
        write.GetProperty("data").GetProperty("arguments").GetString()!.ShouldContain($"[{secretText.Length} characters]");
        write.GetProperty("user_id").GetString().ShouldNotBeNull();
        var failed = tool.Last(e => e.GetProperty("type").GetString() == "tool_returned" && e.GetProperty("data").GetProperty("tool").GetString() == "read_file");
        failed.GetProperty("data").GetProperty("error").GetString()!.ShouldContain("'..'");
        var shot = tool.Last(e => e.GetProperty("type").GetString() == "tool_returned" && e.GetProperty("data").GetProperty("tool").GetString() == "screenshot");
        shot.GetProperty("data").GetProperty("summary").GetString()!.ShouldContain("1024x768");
        shot.GetProperty("correlation_id").GetString().ShouldBe(
            tool.Last(e => e.GetProperty("type").GetString() == "tool_called" && e.GetProperty("data").GetProperty("tool").GetString() == "screenshot")
                .GetProperty("correlation_id").GetString());
    }

    [Fact]
    public async Task no_secret_a_wrong_secret_or_a_deleted_projects_secret_is_refused()
    {
        var project = await tools.ProjectAsync();
        using var http = new HttpClient();
        var url = $"http://127.0.0.1:{tools.Port}/";

        (await http.PostAsync(url, ToolsList())).StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
        var wrong = new HttpRequestMessage(HttpMethod.Post, url) { Content = ToolsList() };
        wrong.Headers.Authorization = new("Bearer", project.Secret[..^1] + (project.Secret[^1] == '0' ? '1' : '0'));
        (await http.SendAsync(wrong)).StatusCode.ShouldBe(System.Net.HttpStatusCode.Unauthorized);
        await Should.ThrowAsync<Exception>(() => tools.ClientAsync("not-a-secret"));
    }

    [Fact]
    public async Task a_real_mcp_client_nobody_here_wrote_lists_the_tools_lists_files_and_checks_the_screenshot()
    {
        var project = await tools.ProjectAsync();
        var script = Path.Combine(AppContext.BaseDirectory, "Tools", "mcp-client.mjs");
        var info = new ProcessStartInfo(Path.Combine(RepositoryRoot(), "scripts", "mcp-client.sh"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        foreach (var a in new[] { script, $"http://127.0.0.1:{tools.Port}/", project.Secret }) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        process.ExitCode.ShouldBe(0, await stderr);

        var found = JsonDocument.Parse((await stdout).Trim().Split('\n')[^1]).RootElement;
        found.GetProperty("tools").EnumerateArray().Select(t => t.GetString()).ShouldBe(AllTools);
        found.GetProperty("files").EnumerateArray().Select(t => t.GetString()).ShouldContain(".env");
        found.GetProperty("mimeType").GetString().ShouldBe("image/png");
        (found.GetProperty("width").GetInt32(), found.GetProperty("height").GetInt32()).ShouldBe((1024, 768));
    }

    internal static StringContent ToolsList() => new(
        """{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}""", System.Text.Encoding.UTF8, "application/json")
    {
        Headers = { },
    };

    internal static Dictionary<string, object?> Args(object value) =>
        JsonSerializer.Deserialize<Dictionary<string, object?>>(JsonSerializer.Serialize(value))!;

    internal static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    internal static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pantheon.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Pantheon.sln not found above the test binaries");
    }

    /// <summary>Checks the PNG's chunks and CRCs with our own reader and inflates its rows; the pixels as RGB values.</summary>
    internal static (int Width, int Height, int[] Pixels) DecodePng(byte[] png)
    {
        png[..8].ShouldBe(new byte[] { 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a });
        int offset = 8, width = 0, height = 0;
        using var idat = new MemoryStream();
        while (offset < png.Length)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset));
            var type = System.Text.Encoding.ASCII.GetString(png, offset + 4, 4);
            Png.Crc(png.AsSpan(offset + 4, 4 + length)).ShouldBe(BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8 + length)));
            if (type == "IHDR")
            {
                width = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 8));
                height = (int)BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(offset + 12));
            }
            if (type == "IDAT") idat.Write(png, offset + 8, length);
            offset += 12 + length;
        }
        idat.Position = 0;
        using var zlib = new ZLibStream(idat, CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        var rows = raw.ToArray();
        rows.Length.ShouldBe(height * (1 + width * 3));
        var pixels = new int[width * height];
        for (var y = 0; y < height; y++)
        {
            var row = y * (1 + width * 3);
            rows[row].ShouldBe((byte)1); // Sub
            int r = 0, g = 0, b = 0;
            for (var x = 0; x < width; x++)
            {
                r = (r + rows[row + 1 + x * 3]) & 0xff;
                g = (g + rows[row + 2 + x * 3]) & 0xff;
                b = (b + rows[row + 3 + x * 3]) & 0xff;
                pixels[y * width + x] = r << 16 | g << 8 | b;
            }
        }
        return (width, height, pixels);
    }
}
