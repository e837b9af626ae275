using System.Threading.Channels;
using Docker.DotNet;
using Docker.DotNet.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pantheon.Handlers.Infrastructure;
using Wolverine;

namespace Pantheon.Handlers.Projects;

/// <summary>
/// Follows the engine's event stream for this instance's VM containers and, when one that this process waits for (<see
/// cref="VmWaits"/>) becomes healthy or dies, sends the saga <see cref="VmHealthChanged"/>: a VM is <c>ready</c> as soon as
/// its health check passes rather than at the saga's next poll (<see cref="VmSettings.HealthPollMilliseconds"/>, which
/// stays as the fallback). The stream is opened again with backoff whenever it ends or fails (the engine restarting, the
/// socket gone), asking for the events since the last one seen, so that an engine that kept running replays what happened
/// in between. A failure is logged and never stops the host.
/// </summary>
public sealed class VmEventWatcher(
    IDockerClient docker, DockerSettings engine, VmSettings vm, VmWaits waits, IServiceProvider services, IHostApplicationLifetime lifetime,
    TimeProvider time, ILogger<VmEventWatcher> logger) : BackgroundService
{
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The container actions that can end the saga's wait: healthy and died. A health check that fails or is still starting
    /// changes nothing that the poll would not see by the deadline; a VM image without a health check is ready at its first
    /// poll (a start event would come before the saga begins to wait).
    /// </summary>
    public static readonly string[] Actions = ["health_status: healthy", "die"];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await lifetime.WhenStartedAsync(stoppingToken); // sending needs Wolverine's runtime
        // Bounded: a burst beyond it drops the oldest, and the saga's poll finds what a dropped event would have said.
        var changed = Channel.CreateBounded<Guid>(new BoundedChannelOptions(1024)
        {
            FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true,
        });
        var sending = SendAsync(changed.Reader, stoppingToken);
        var retry = FirstRetry;
        long? since = null, lastSeen = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var connected = time.GetUtcNow();
            try
            {
                await docker.System.MonitorEventsAsync(Parameters(since), new EngineEventsReported(e =>
                {
                    lastSeen = e.Time;
                    if (e.Actor?.Attributes?.TryGetValue(PantheonLabels.ProjectId, out var label) == true && Guid.TryParse(label, out var id))
                        changed.Writer.TryWrite(id);
                }), stoppingToken);
                logger.LogWarning("The Docker engine's event stream ended; opening it again");
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // Whatever broke the stream (the engine away, a refused socket, a malformed event), the watcher goes on: an
                // exception out of a BackgroundService would stop the host.
                logger.LogWarning("The Docker engine's event stream failed ({Error}); opening it again in {Delay} ms; until then each "
                    + "waiting VM is looked at every {Poll} ms", e.Message, retry.TotalMilliseconds, vm.HealthPollMilliseconds);
            }
            // Every matching event up to the last one seen arrived, and none came before it since this stream opened: the next
            // stream replays from there (a few seconds early, for the engine's clock; a duplicate costs a look, a gap a poll).
            since = Math.Max(lastSeen ?? 0, connected.ToUnixTimeSeconds()) - 2;
            retry = time.GetUtcNow() - connected > LastRetry ? FirstRetry : TimeSpan.FromTicks(Math.Min(retry.Ticks * 2, LastRetry.Ticks));
            try
            {
                await Task.Delay(retry, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
        changed.Writer.Complete();
        await sending;
    }

    private ContainerEventsParameters Parameters(long? since) => new()
    {
        Since = since?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Filters = new Dictionary<string, IDictionary<string, bool>>
        {
            ["type"] = new Dictionary<string, bool> { ["container"] = true },
            ["event"] = Actions.ToDictionary(a => a, _ => true),
            // Several label filters must all match.
            ["label"] = new Dictionary<string, bool> { [$"{PantheonLabels.Instance}={engine.Instance}"] = true, [$"{PantheonLabels.Role}=vm"] = true },
        },
    };

    private async Task SendAsync(ChannelReader<Guid> changed, CancellationToken ct)
    {
        try
        {
            await foreach (var projectId in changed.ReadAllAsync(ct))
            {
                try
                {
                    if (!waits.TryGet(projectId, out var origin)) continue;
                    await using var scope = services.CreateAsyncScope(); // the message context is scoped
                    var bus = scope.ServiceProvider.GetRequiredService<IMessageContext>();
                    (bus.UserName, bus.CorrelationId) = (origin.UserName, origin.CorrelationId);
                    await bus.SendAsync(new VmHealthChanged(projectId));
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The database away (a durable send): the saga's poll looks at this VM instead.
                    logger.LogWarning(e, "Could not pass on a change of project {ProjectId}'s VM; its next poll will see it", projectId);
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }
}

/// <summary>
/// Hands each of the engine's events to <paramref name="report"/> on the stream's own loop, at once (<see cref="Progress{T}"/>
/// would post each to the thread pool).
/// </summary>
public sealed class EngineEventsReported(Action<Message> report) : IProgress<Message>
{
    public void Report(Message value) => report(value);
}
