using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>One feature's use of the notification connection: its channel, and what it does on a hint and on a reconnection.</summary>
public interface INotificationListener
{
    string Channel { get; }

    /// <summary>A notification on <see cref="Channel"/>; runs on the connection's thread, so it must be quick.</summary>
    void Notified(string payload);

    /// <summary>After every (re)connection, the first included: notifications before it may have been missed.</summary>
    void Connected();

    /// <summary>The connection broke: until <see cref="Connected"/>, notifications are not arriving.</summary>
    void Lost();
}

/// <summary>
/// The process's one <c>LISTEN</c> connection to PostgreSQL, for the channels of every <see cref="INotificationListener"/>.
/// Notifications are hints: a connection that breaks (PostgreSQL restarted, the connection was killed, the network went
/// away) loses those sent meanwhile, so after every (re)connection each listener is told and catches up from its own
/// state. A silent connection is found by a ping once it has been idle for a while.
/// </summary>
public sealed class PostgresNotifications(
    NpgsqlDataSource database, IEnumerable<INotificationListener> listeners, ILogger<PostgresNotifications> logger) : BackgroundService
{
    /// <summary>The connection's <c>application_name</c>: an operator (or a test) finds it in <c>pg_stat_activity</c>.</summary>
    public const string ApplicationName = "pantheon-notifications";

    private static readonly TimeSpan IdlePing = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(2);

    private readonly INotificationListener[] _listeners = [.. listeners];
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _connections;

    /// <summary>Completes when the first <c>LISTEN</c> is in place.</summary>
    public Task Listening => _listening.Task;

    /// <summary>How many times the connection was made, the first included.</summary>
    public int Connections => Volatile.Read(ref _connections);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pause = TimeSpan.FromMilliseconds(100);
        var listen = $"set application_name = '{ApplicationName}';"
            + string.Concat(_listeners.Select(l => $"listen {l.Channel};").Distinct());
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) =>
                {
                    foreach (var listener in _listeners) if (listener.Channel == e.Channel) listener.Notified(e.Payload);
                };
                await using (var command = new NpgsqlCommand(listen, connection))
                    await command.ExecuteNonQueryAsync(stoppingToken);
                Interlocked.Increment(ref _connections);
                pause = TimeSpan.FromMilliseconds(100);
                foreach (var listener in _listeners) listener.Connected();
                _listening.TrySetResult();

                while (!stoppingToken.IsCancellationRequested)
                {
                    if (await connection.WaitAsync(IdlePing, stoppingToken)) continue;
                    await using var ping = new NpgsqlCommand("select 1", connection) { CommandTimeout = 5 };
                    await ping.ExecuteNonQueryAsync(stoppingToken);
                }
            }
            catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or IOException or TimeoutException
                                      && !stoppingToken.IsCancellationRequested)
            {
                foreach (var listener in _listeners) listener.Lost();
                logger.LogWarning(e, "Lost the PostgreSQL notification connection; listening again in {Pause} ms",
                    pause.TotalMilliseconds);
                await Task.Delay(pause, stoppingToken);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
            }
        }
    }
}
