using JasperFx.CommandLine;

namespace Pantheon.Web.Auth;

public sealed class DevTokenInput : NetCoreInput
{
    [Description("The user id, the token's 'sub'")]
    public string UserFlag { get; set; } = "alice";

    [Description("The 'email' claim")]
    public string? EmailFlag { get; set; }

    [Description("The 'name' claim")]
    public string? NameFlag { get; set; }

    [Description("A role, such as pantheon-admin")]
    public string? RoleFlag { get; set; }

    [Description("Minutes until the token expires")]
    public int MinutesFlag { get; set; } = 60;
}

/// <summary><c>dev-token --user alice</c>: prints a token that the development backend accepts (Development only).</summary>
[Description("Print a development JWT signed with Auth:SigningKey", Name = "dev-token")]
public sealed class DevTokenCommand : JasperFxCommand<DevTokenInput>
{
    public override bool Execute(DevTokenInput input)
    {
        using var host = input.BuildHost();
        var environment = host.Services.GetRequiredService<IHostEnvironment>();
        if (!environment.IsDevelopment())
        {
            // Minting tokens is what an identity provider does; outside Development there must be one.
            Console.Error.WriteLine(
                $"dev-token runs only in Development (this is '{environment.EnvironmentName}'): tokens come from Auth:Authority.");
            return false;
        }
        var settings = host.Services.GetRequiredService<AuthSettings>();
        var roles = input.RoleFlag is null ? [] : input.RoleFlag.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Console.WriteLine(DevTokens.Mint(settings, input.UserFlag, input.EmailFlag, input.NameFlag, roles, TimeSpan.FromMinutes(input.MinutesFlag)));
        return true;
    }
}
