using System.Reflection;
using ModelContextProtocol.Server;
using Pantheon.Domain.Tools;
using Pantheon.Tools.Mcp;

namespace Pantheon.IntegrationTests.Tools;

/// <summary>The tools API's tools and the names a project's <c>tool_approval</c> may list are one set.</summary>
public class ToolNamesTests
{
    [Fact]
    public void every_registered_mcp_tool_is_a_known_tool_name_and_every_known_name_is_registered()
    {
        // The tool types ToolsApp registers (WithTools<ProjectTools>); a new [McpServerToolType] class must be listed here too.
        var toolTypes = typeof(ProjectTools).Assembly.GetTypes().Where(t => t.GetCustomAttribute<McpServerToolTypeAttribute>() is not null).ToList();
        toolTypes.ShouldBe([typeof(ProjectTools)]);

        var registered = toolTypes
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static))
            .Select(m => m.GetCustomAttribute<McpServerToolAttribute>())
            .OfType<McpServerToolAttribute>()
            .Select(a => a.Name)
            .ToList();

        registered.ShouldAllBe(name => name != null);
        registered.ShouldBeUnique();
        registered.Order().ShouldBe(ToolNames.All.Order());
    }
}
