using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Docker.DotNet;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;
using Pantheon.TestSupport;

namespace Pantheon.IntegrationTests.Faults;

/// <summary>
/// Backend processes as production runs them (the real Program: Wolverine Balanced, Marten's HotCold daemon) on a
/// database of their own, emptied for each test, and on one Docker engine under an instance label of their own.
/// Each node names itself to PostgreSQL (<c>Application Name</c>), so a test can see which one holds which lock.
/// </summary>
public sealed class FaultCluster : IAsyncDisposable
{
    public const string Schema = "pantheon";

    private readonly Dictionary<string, string?> _settings;
    private readonly List<BackendProcess> _nodes = [];

    public string ConnectionString { get; }
    public IVmHost Engine { get; }
    public string DataRoot { get; }
    public IReadOnlyList<BackendProcess> Nodes => _nodes;
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(60) };

    private FaultCluster(string connectionString, Dictionary<string, string?> settings, IVmHost engine, string dataRoot) =>
        (ConnectionString, _settings, Engine, DataRoot) = (connectionString, settings, engine, dataRoot);

    /// <summary>An empty database and no machines of this instance; no node yet (<see cref="AddNodeAsync"/>).</summary>
    public static async Task<FaultCluster> CreateAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var connection = await EmptyDatabaseAsync("faults");
        var instance = $"{TestSettings.Instance}-faults";
        var dataRoot = Path.Combine(Path.GetTempPath(), instance, "data");
        var settings = TestSettings.Base();
        // As production: the owner role's `resources setup` first, then every node as the application role.
        settings["ConnectionStrings:Marten"] = await TestDatabase.PrepareAsync(connection);
        settings["ConnectionStrings:MartenOwner"] = TestDatabase.As(connection, TestDatabase.OwnerRole);
        settings["Docker:Instance"] = instance;
        settings["Projects:DataRoot"] = dataRoot;
        settings["Limits:ProjectsPerUser"] = "100";
        settings["Vm:BootTimeoutSeconds"] = "180";
        configure?.Invoke(settings);
        var docker = new DockerSettings { Endpoint = settings["Docker:Endpoint"]!, Instance = instance, TimeoutSeconds = 30 };
        var client = new DockerClientConfiguration(new Uri(docker.Endpoint), defaultTimeout: TimeSpan.FromSeconds(30)).CreateClient();
        var engine = new DockerVmHost(client, docker, NullLogger<DockerVmHost>.Instance);
        var cluster = new FaultCluster(connection, settings, engine, dataRoot);
        await cluster.RemoveMachinesAsync();
        return cluster;
    }

    /// <summary>Starts one more node and waits until it answers; it names itself <c>pantheon-node-{n}</c> to PostgreSQL.</summary>
    public async Task<BackendProcess> AddNodeAsync()
    {
        var settings = new Dictionary<string, string?>(_settings)
        {
            ["ConnectionStrings:Marten"] = new NpgsqlConnectionStringBuilder(_settings["ConnectionStrings:Marten"])
            {
                ApplicationName = NodeName(_nodes.Count),
            }.ConnectionString,
        };
        var node = await TestBackend.StartAsync(settings);
        _nodes.Add(node);
        return node;
    }

    public static string NodeName(int index) => $"pantheon-node-{index}";

    public async Task<Guid> CreateProjectAsync(BackendProcess node, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(node.Url, "/api/projects"))
        {
            Content = JsonContent.Create(new { name = "fault project", os = "windows-11" }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"create: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    /// <summary>Asks for the project's deletion, which the API accepts (202) before the saga tears it down.</summary>
    public async Task DeleteProjectAsync(BackendProcess node, string token, Guid id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(node.Url, $"/api/projects/{id}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request);
        if (response.StatusCode != System.Net.HttpStatusCode.Accepted)
            throw new InvalidOperationException($"delete: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>The project as the API shows it: status, subnet, failure.</summary>
    public async Task<JsonElement?> ProjectAsync(BackendProcess node, string token, Guid id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(node.Url, $"/api/projects/{id}"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request);
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>Waits until the project is <paramref name="status"/> (or failed), as the database has it.</summary>
    public Task<string?> WaitForStatusAsync(Guid id, string status, int seconds = 120) =>
        Eventually.Get(() => StatusAsync(id), s => s == status || s == "Failed", TimeSpan.FromSeconds(seconds),
            $"project {id} to be {status}");

    public async Task<string?> StatusAsync(Guid id) =>
        await ScalarAsync<string?>($"select data->>'Status' from {Schema}.mt_doc_projectview where id = @id", ("id", id));

    /// <summary>How many events of each type the project's stream holds.</summary>
    public async Task<Dictionary<string, int>> EventCountsAsync(Guid id)
    {
        var counts = new Dictionary<string, int>();
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select type, count(*)::int from {Schema}.mt_events where stream_id = @id group by type", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) counts[reader.GetString(0)] = reader.GetInt32(1);
        return counts;
    }

    /// <summary>The newest event of the project's stream: its type and when it was committed.</summary>
    public async Task<(string Type, DateTimeOffset At, long Version)?> LastEventAsync(Guid id)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select type, timestamp, version from {Schema}.mt_events where stream_id = @id order by version desc limit 1", connection);
        command.Parameters.AddWithValue("id", id);
        await using var reader = await command.ExecuteReaderAsync();
        if (!await reader.ReadAsync()) return null;
        return (reader.GetString(0), reader.GetFieldValue<DateTimeOffset>(1), reader.GetInt64(2));
    }

    /// <summary>The saga's step as stored (<c>AllocatingNetwork</c>, <c>WaitingForVm</c>, ...).</summary>
    public Task<string?> SagaStepAsync(Guid id) =>
        ScalarAsync<string?>($"select data->>'Step' from {Schema}.mt_doc_projectprovisioning where id = @id", ("id", id));

    public async Task<List<string>> LeasesAsync(Guid id)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            $"select id from {Schema}.mt_doc_subnetlease where (data->>'ProjectId')::uuid = @id", connection);
        command.Parameters.AddWithValue("id", id);
        var leases = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) leases.Add(reader.GetString(0));
        return leases;
    }

    /// <summary>
    /// What exactly once means for a ready project: one event per step, one network, one VM, one file server, one lease.
    /// </summary>
    public async Task ShouldBeProvisionedOnceAsync(Guid id)
    {
        var events = await EventCountsAsync(id);
        events.ShouldContainKeyAndValue("project_requested", 1);
        events.ShouldContainKeyAndValue("network_allocated", 1);
        events.ShouldContainKeyAndValue("shared_folder_prepared", 1);
        events.ShouldContainKeyAndValue("vm_booted", 1);
        events.Keys.ShouldNotContain("project_provisioning_failed");
        var machines = (await Engine.ListLabelledAsync(default)).Where(r => r.ProjectId == id).ToList();
        machines.Count(r => r.Kind == DockerVmHost.NetworkKind).ShouldBe(1, $"networks of {id}");
        machines.Count(r => r.Kind == DockerVmHost.ContainerKind && r.Role == "vm").ShouldBe(1, $"VMs of {id}");
        machines.Count(r => r.Kind == DockerVmHost.ContainerKind && r.Role == "shared-folder").ShouldBe(1, $"file servers of {id}");
        var subnet = await ScalarAsync<string?>($"select data->>'Subnet' from {Schema}.mt_doc_projectview where id = @id", ("id", id));
        (await LeasesAsync(id)).ShouldHaveSingleItem().ShouldBe(subnet);
    }

    /// <summary>
    /// Which node's connections hold each advisory lock: the daemon's shard locks (Marten HotCold) and Wolverine's
    /// leadership. A lock nobody holds is absent.
    /// </summary>
    public async Task<Dictionary<long, string>> AdvisoryLocksAsync()
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            select (l.classid::bigint << 32) | l.objid::bigint, a.application_name
              from pg_locks l join pg_stat_activity a on a.pid = l.pid
             where l.locktype = 'advisory' and l.granted and a.datname = current_database()
            """, connection);
        var locks = new Dictionary<long, string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync()) locks[reader.GetInt64(0)] = reader.GetString(1);
        return locks;
    }

    public async Task<T> ScalarAsync<T>(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        var result = await command.ExecuteScalarAsync();
        return result is null or DBNull ? default! : (T)result;
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>A fresh database named after this run's: dropped (whatever is still connected) and created again.</summary>
    private static async Task<string> EmptyDatabaseAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString);
        var database = $"{builder.Database}_{name}";
        var admin = new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { Database = "postgres", Pooling = false }
            .ConnectionString;
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"drop database if exists \"{database}\" with (force)", connection);
            await drop.ExecuteNonQueryAsync();
            await using var create = new NpgsqlCommand($"create database \"{database}\"", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(TestDatabase.ConnectionString) { Database = database }.ConnectionString;
    }

    private async Task RemoveMachinesAsync()
    {
        await TestMachines.RemoveAllAsync(Engine);
        if (Directory.Exists(DataRoot)) Directory.Delete(DataRoot, recursive: true);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes) await node.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        await RemoveMachinesAsync();
        Http.Dispose();
    }
}
