using System.Text.Json;
using Docker.DotNet;
using Npgsql;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Pantheon.Web.Health;

/// <summary><c>/health</c> answers while the process lives; <c>/health/ready</c> when PostgreSQL and Docker answer too.</summary>
public static class HealthEndpoints
{
    private const string Ready = "ready";
    private static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(3);

    public static IServiceCollection AddPantheonHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<PostgresHealthCheck>("postgresql", tags: [Ready], timeout: CheckTimeout)
            .AddCheck<DockerHealthCheck>("docker", tags: [Ready], timeout: CheckTimeout);
        return services;
    }

    public static void MapPantheonHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = Write }).AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains(Ready), ResponseWriter = Write }).AllowAnonymous();
    }

    /// <summary>
    /// Names each check and its status, and a fixed sentence for a failing one: the endpoint is anonymous, so an
    /// exception's text (hosts, socket paths, server versions) stays in the log.
    /// </summary>
    private static Task Write(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString().ToLowerInvariant(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new
            {
                status = e.Value.Status.ToString().ToLowerInvariant(),
                error = e.Value.Status == HealthStatus.Healthy ? null : $"{e.Key} did not answer in time or answered with an error.",
            }),
        });
    }
}

internal sealed class PostgresHealthCheck(NpgsqlDataSource database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await using var command = database.CreateCommand("select 1");
        await command.ExecuteScalarAsync(cancellationToken);
        return HealthCheckResult.Healthy();
    }
}

internal sealed class DockerHealthCheck(IDockerClient docker) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await docker.System.PingAsync(cancellationToken);
        return HealthCheckResult.Healthy();
    }
}
