using Docker.DotNet;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>The <c>Docker</c> section: which engine to drive.</summary>
public sealed class DockerSettings
{
    public const string Section = "Docker";

    public string Endpoint { get; set; } = "unix:///var/run/docker.sock";

    /// <summary>How long one Docker API call may take before the engine counts as not answering.</summary>
    public int TimeoutSeconds { get; set; } = 30;

    /// <summary>The <c>pantheon.instance</c> label on everything this deployment creates.</summary>
    public string Instance { get; set; } = "pantheon";

    public static IServiceCollection AddDockerEngine(IServiceCollection services, IConfiguration configuration)
    {
        var settings = configuration.GetSection(Section).Get<DockerSettings>() ?? new DockerSettings();
        services.AddSingleton(settings);
        services.AddSingleton<IDockerClient>(_ =>
            new DockerClientConfiguration(new Uri(settings.Endpoint), defaultTimeout: TimeSpan.FromSeconds(settings.TimeoutSeconds)).CreateClient());
        return services;
    }
}
