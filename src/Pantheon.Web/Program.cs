using JasperFx;
using Pantheon.Web;

var builder = WebApplication.CreateBuilder(args);
if (args.Length > 0 && args[0] is "audit" or "dev-token")
{
    // Our verbs' stdout is their output (a token, JSON lines): logs and the command line's own chatter go to stderr.
    builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(
        new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(Console.Error) });
}
builder.AddPantheon();

var app = builder.Build();
app.UsePantheon();

return await app.RunJasperFxCommands(args);

/// <summary>The entry point, visible to the integration tests' Alba host.</summary>
public partial class Program;
