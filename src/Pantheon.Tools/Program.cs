namespace Pantheon.Tools;

/// <summary>The tools API's entry point (a named class: the backend's top-level <c>Program</c> is the only one of that name).</summary>
public static class ToolsProgram
{
    public static Task Main(string[] args) => ToolsApp.Build(args).RunAsync();
}
