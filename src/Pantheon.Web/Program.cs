using JasperFx;
using Pantheon.Web;

if (args is ["audit", "export", ..])
{
    // The export reads the event table and nothing else: no host, so it starts in a fraction of the time.
    var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environments.Production;
    var configuration = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true).AddJsonFile($"appsettings.{environment}.json", optional: true)
        .AddEnvironmentVariables().Build();
    return Pantheon.Web.Audit.EventExport.Run(configuration, args[2..]);
}

var builder = WebApplication.CreateBuilder(args);
if (args.Length > 0 && args[0] is "audit" or "dev-token")
{
    // Our verbs' stdout is their output (a token, JSON lines): logs and the command line's own chatter go to stderr.
    builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
    Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(
        new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(Console.Error) });
}
// The commands that change the schema or rewrite read models connect as the owner role; the backend never does (and no
// setting makes it: this is the only place that asks for the owner).
builder.AddPantheon(asSchemaOwner: args is ["resources" or "projections" or "db-apply" or "db-patch" or "db-assert", ..]);

var app = builder.Build();
app.UsePantheon();

return await app.RunJasperFxCommands(args);

/// <summary>The entry point, visible to the integration tests' Alba host.</summary>
public partial class Program;
