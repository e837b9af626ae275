using JasperFx;
using Pantheon.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddPantheon();

var app = builder.Build();
app.UsePantheon();

return await app.RunJasperFxCommands(args);

/// <summary>The entry point, visible to the integration tests' Alba host.</summary>
public partial class Program;
