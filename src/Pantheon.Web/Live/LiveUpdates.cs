using System.Collections.Concurrent;
using System.Data;
using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using Channels = System.Threading.Channels.Channel;
using Marten;
using Npgsql;
using Pantheon.Domain.Live;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Web.Live;

/// <summary>
/// Hands the project updates that any backend process commits to the sockets of each project's owner connected to this
/// process. The event log is the source: the hub reads the events after the last sequence number it delivered, in
/// order, each once (<see cref="DeliveryCursor"/>). PostgreSQL's notifications only say when to look; a lost
/// notification connection, a PostgreSQL restart or a missed hint delays an update until the next look (on
/// reconnection, or every <c>Live:CatchUpSeconds</c>), never loses it. Owners of projects are looked up once and remembered.
/// </summary>
public sealed class LiveUpdates(
    NpgsqlDataSource database, IDocumentStore store, ActorSessions sessions, LiveSettings settings, TimeProvider time,
    ILogger<LiveUpdates> logger)
    : BackgroundService, INotificationListener
{
    private const int BatchSize = 500;
    private static readonly TimeSpan GapPoll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(500);

    /// <summary>The project events a client is told about, by Marten's type name.</summary>
    /// <summary>Status changes, and the tools API's calls (<c>tool-activity</c>: an agent's, or a VM client's, steps as they happen).</summary>
    private static readonly Dictionary<string, Type> ProjectEvents = ProjectStatuses.EventTypes.Append(typeof(ToolCalled))
        .Append(typeof(ToolReturned)).ToDictionary(t => JsonNamingPolicy.SnakeCaseLower.ConvertName(t.Name), StringComparer.Ordinal);

    private readonly ConcurrentDictionary<LiveSocket, byte> _sockets = new();
    private readonly ConcurrentDictionary<Guid, string> _owners = new();
    private readonly Dictionary<string, int> _places = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Channel<bool> _wake =
        Channels.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly string _events = $"{store.Options.Events.DatabaseSchemaName}.mt_events";
    private DeliveryCursor _cursor = DeliveryCursor.At(0);

    /// <summary>Completes once this process listens and knows where the log ends: updates committed after it are delivered.</summary>
    public Task Listening => Task.WhenAll(_connected.Task, _started.Task);

    /// <summary>The sequence number of the last event this hub has passed (delivered, or not a project update).</summary>
    public long Delivered => Volatile.Read(ref _cursor).Delivered;

    public string Channel => ProjectUpdateNotifier.Channel;

    public void Notified(string payload) => _wake.Writer.TryWrite(true);

    public void Connected()
    {
        _connected.TrySetResult();
        _wake.Writer.TryWrite(true); // whatever committed while the connection was down
    }

    public void Lost()
    {
        // Nothing to do: the next look after reconnection reads what was committed meanwhile.
    }

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
        // Clients see what happens after they subscribe: start at the end of the log.
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var head = database.CreateCommand($"select coalesce(max(seq_id), 0) from {_events}");
                Volatile.Write(ref _cursor, DeliveryCursor.At((long)(await head.ExecuteScalarAsync(stoppingToken))!));
                break;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.Log(Level(e), e, "Live updates could not read the event log's end; trying again");
                await Task.Delay(RetryPause, stoppingToken);
            }
        }
        _started.TrySetResult();

        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = _cursor.Gaps.Count > 0 ? GapPoll : TimeSpan.FromSeconds(settings.CatchUpSeconds);
            await Task.WhenAny(_wake.Reader.WaitToReadAsync(stoppingToken).AsTask(), Task.Delay(wait, time, stoppingToken));
            _wake.Reader.TryRead(out _);
            if (stoppingToken.IsCancellationRequested) break;
            try
            {
                await CatchUp(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Whatever it is, it must not stop the hub: log it and look again.
                logger.Log(Level(e), e, "Live updates could not read the event log; trying again");
                await Task.Delay(RetryPause, stoppingToken);
            }
        }
    }

    /// <summary>PostgreSQL away (restarting, say) is expected; anything else is a fault, logged as one.</summary>
    private static LogLevel Level(Exception e) =>
        e is NpgsqlException or System.Net.Sockets.SocketException or IOException or TimeoutException ? LogLevel.Warning : LogLevel.Error;

    private sealed record Row(long Sequence, Guid StreamId, string Type, string? Data);

    /// <summary>Hands out every event committed after <see cref="Delivered"/> that no earlier number can still precede.</summary>
    private async Task CatchUp(CancellationToken ct)
    {
        while (true)
        {
            var cursor = _cursor;
            var (rows, stillRunning, running, head) = await Read(cursor, ct);
            if (head < cursor.Delivered)
            {
                // The log is shorter than what was delivered: it was wiped and its numbering restarted (a test's data reset).
                logger.LogWarning("The event log restarted its numbering below {Delivered}; live updates start again from its beginning",
                    cursor.Delivered);
                Volatile.Write(ref _cursor, DeliveryCursor.At(0));
                continue;
            }
            var (take, next) = cursor.Advance(rows.Select(r => r.Sequence).ToList(), stillRunning, running, time.GetUtcNow(),
                TimeSpan.FromSeconds(settings.GapTimeoutSeconds));
            foreach (var row in rows.Take(take))
                if (row.Data is not null) await Deliver(row, ct);
            Volatile.Write(ref _cursor, next);
            if (rows.Count < BatchSize || take < rows.Count) return;
        }
    }

    /// <summary>One snapshot: which watched writers still run, which run at all, the events after the cursor, the log's end.</summary>
    private async Task<(List<Row> Rows, HashSet<ulong> StillRunning, HashSet<ulong> Running, long Head)> Read(
        DeliveryCursor cursor, CancellationToken ct)
    {
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            "select array(select x from unnest($1::text[]) x where not pg_visible_in_snapshot(x::xid8, pg_current_snapshot()))")
        {
            Parameters =
            {
                new NpgsqlParameter { Value = cursor.Watched.Select(x => x.ToString(CultureInfo.InvariantCulture)).ToArray() },
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("select array(select x::text from pg_snapshot_xip(pg_current_snapshot()) x)"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(
            $"select seq_id, stream_id, type, case when type = any($2) then data::text end from {_events} " +
            "where seq_id > $1 order by seq_id limit $3")
        {
            Parameters =
            {
                new NpgsqlParameter { Value = cursor.Delivered }, new NpgsqlParameter { Value = ProjectEvents.Keys.ToArray() },
                new NpgsqlParameter { Value = BatchSize },
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"select coalesce(max(seq_id), 0) from {_events}"));
        HashSet<ulong> stillRunning, running;
        long head;
        var rows = new List<Row>();
        await using (var reader = await batch.ExecuteReaderAsync(ct))
        {
            await reader.ReadAsync(ct);
            stillRunning = Xids(reader.GetFieldValue<string[]>(0));
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            running = Xids(reader.GetFieldValue<string[]>(0));
            await reader.NextResultAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                var data = reader.IsDBNull(3) ? null : reader.GetString(3);
                rows.Add(new Row(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), data));
            }
            await reader.NextResultAsync(ct);
            await reader.ReadAsync(ct);
            head = reader.GetInt64(0);
        }
        await transaction.CommitAsync(ct);
        return (rows, stillRunning, running, head);
    }

    private static HashSet<ulong> Xids(string[] values) => values.Select(v => ulong.Parse(v, CultureInfo.InvariantCulture)).ToHashSet();

    private async Task Deliver(Row row, CancellationToken ct)
    {
        var data = JsonSerializer.Deserialize(row.Data!, ProjectEvents[row.Type])!;
        if (data is ToolCalled or ToolReturned)
        {
            await DeliverTool(row, data, ct);
            return;
        }
        if (ProjectUpdateNotifier.StatusAfter(data) is not var (status, at)) return;
        var owner = (data as ProjectRequested)?.OwnerId ?? await OwnerOf(row.StreamId, ct);
        if (owner is null) return;
        _owners[row.StreamId] = owner;
        var message = JsonSerializer.Serialize(new
        {
            type = "project-updated", project_id = row.StreamId, status, @event = row.Type, at, sequence = row.Sequence,
        });
        foreach (var socket in _sockets.Keys)
            if (socket.UserId == owner && socket.Subscribed) socket.Enqueue(message);
        if (status == "deleted") _owners.TryRemove(row.StreamId, out _);
    }

    /// <summary>A tool call on the project (never its arguments' content nor a screenshot: the tool, the call, how it ended).</summary>
    private async Task DeliverTool(Row row, object data, CancellationToken ct)
    {
        if (await OwnerOf(row.StreamId, ct) is not { } owner) return;
        _owners[row.StreamId] = owner;
        var message = data switch
        {
            ToolCalled c => JsonSerializer.Serialize(new
            {
                type = "tool-activity", project_id = row.StreamId, @event = row.Type, call_id = c.CallId, tool = c.Tool, at = c.At,
                sequence = row.Sequence,
            }),
            ToolReturned r => JsonSerializer.Serialize(new
            {
                type = "tool-activity", project_id = row.StreamId, @event = row.Type, call_id = r.CallId, tool = r.Tool, at = r.At,
                sequence = row.Sequence, error = r.Error, duration_ms = r.DurationMs,
            }),
            _ => null,
        };
        if (message is null) return;
        foreach (var socket in _sockets.Keys)
            if (socket.UserId == owner && socket.Subscribed) socket.Enqueue(message);
    }

    private async Task<string?> OwnerOf(Guid projectId, CancellationToken ct)
    {
        if (_owners.TryGetValue(projectId, out var owner)) return owner;
        await using var session = await sessions.ForAsync(new DatabaseActor.System("live updates: project owners"), ct);
        var first = await session.Events.FetchStreamAsync(projectId, version: 1, token: ct);
        return first.Select(e => e.Data).OfType<ProjectRequested>().FirstOrDefault()?.OwnerId;
    }
}
