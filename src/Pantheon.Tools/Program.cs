using Pantheon.Tools;

await ToolsApp.Build(args).RunAsync();

/// <summary>The tools API's entry point, so that tests can host it.</summary>
public partial class Program;
