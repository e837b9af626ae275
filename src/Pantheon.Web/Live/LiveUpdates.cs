using System.Collections.Concurrent;
using System.Text.Json;
using Marten;
using Npgsql;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Web.Live;

/// <summary>
/// Listens on PostgreSQL for project updates committed by any backend process and hands each to the sockets of
/// the project's owner connected to this process. Owners of projects are looked up once and remembered.
/// </summary>
public sealed class LiveUpdates(NpgsqlDataSource database, ActorSessions sessions, ILogger<LiveUpdates> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<LiveSocket, byte> _sockets = new();
    private readonly ConcurrentDictionary<Guid, string> _owners = new();
    private readonly Dictionary<string, int> _places = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once this process listens: updates committed after it are delivered.</summary>
    public Task Listening => _listening.Task;

    public void Add(LiveSocket socket) => _sockets.TryAdd(socket, 0);

    /// <summary>Takes one of the user's <paramref name="max"/> socket places in this process; false when all are taken.</summary>
    public bool TryReserve(string userId, int max)
    {
        lock (_places)
        {
            var taken = _places.GetValueOrDefault(userId);
            if (taken >= max) return false;
            _places[userId] = taken + 1;
            return true;
        }
    }

    /// <summary>Gives back a place that <see cref="TryReserve"/> took.</summary>
    public void Release(string userId)
    {
        lock (_places)
        {
            if (_places.TryGetValue(userId, out var taken) && taken > 1) _places[userId] = taken - 1;
            else _places.Remove(userId);
        }
    }

    public void Remove(LiveSocket socket) => _sockets.TryRemove(socket, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync(stoppingToken);
                var updates = System.Threading.Channels.Channel.CreateUnbounded<string>(new() { SingleReader = true, SingleWriter = true });
                connection.Notification += (_, e) => updates.Writer.TryWrite(e.Payload);
                await using (var listen = new NpgsqlCommand($"listen {ProjectUpdateNotifier.Channel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                _listening.TrySetResult();

                var dispatch = Dispatch(updates.Reader, stoppingToken);
                while (!stoppingToken.IsCancellationRequested) await connection.WaitAsync(stoppingToken);
                updates.Writer.Complete();
                await dispatch;
            }
            catch (Exception e) when (e is NpgsqlException or System.Net.Sockets.SocketException or IOException)
            {
                // The connection to PostgreSQL broke: listen again after a pause; updates in between are lost to
                // live clients only (the events themselves are committed and readable).
                logger.LogWarning(e, "Live updates lost their PostgreSQL connection; listening again in 1 s");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
            }
        }
    }

    private async Task Dispatch(System.Threading.Channels.ChannelReader<string> updates, CancellationToken ct)
    {
        await foreach (var payload in updates.ReadAllAsync(ct))
        {
            var update = JsonSerializer.Deserialize<ProjectUpdate>(payload)!;
            var owner = update.OwnerId ?? await OwnerOf(update.ProjectId, ct);
            if (owner is null) continue;
            if (update.OwnerId is not null) _owners[update.ProjectId] = owner;
            var message = JsonSerializer.Serialize(new
            {
                type = "project-updated", project_id = update.ProjectId, status = update.Status, @event = update.Event, at = update.At,
            });
            foreach (var socket in _sockets.Keys)
                if (socket.UserId == owner && socket.Subscribed) socket.Enqueue(message);
            if (update.Status == "deleted") _owners.TryRemove(update.ProjectId, out _);
        }
    }

    private async Task<string?> OwnerOf(Guid projectId, CancellationToken ct)
    {
        if (_owners.TryGetValue(projectId, out var owner)) return owner;
        await using var session = await sessions.ForAsync(new DatabaseActor.System("live updates: project owners"), ct);
        var first = await session.Events.FetchStreamAsync(projectId, version: 1, token: ct);
        owner = first.Select(e => e.Data).OfType<ProjectRequested>().FirstOrDefault()?.OwnerId;
        if (owner is not null) _owners[projectId] = owner;
        return owner;
    }
}
