using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Wolverine;
using Wolverine.Runtime;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>
/// The cause of the flaky provisioning test: a Solo host that starts releases every stored message of its message storage,
/// and a host of another collection, running in parallel on the same database, then took that collection's saga steps.
/// </summary>
public class MessageStorageIsolationTests
{
    [Fact]
    public async Task a_test_host_that_starts_leaves_the_stored_messages_of_another_collections_host_alone()
    {
        await TestDatabase.EnsureCreatedAsync();
        var schema = AppFixture.MessageSchema("isolation_first");
        await using var first = await AppFixture.StartAsync(TestSettings.Base(), messageSchema: schema);
        var envelope = new Envelope(new MessageOfAnotherCollection(Guid.NewGuid()))
        {
            Destination = new Uri("local://another-collection"),
            Status = EnvelopeStatus.Scheduled,
            ScheduledTime = DateTimeOffset.UtcNow.AddHours(1),
            OwnerId = 1, // every Solo host is node 1
            Data = "{}"u8.ToArray(),
            MessageType = "another-collection",
            ContentType = "application/json",
        };
        await first.Services.GetRequiredService<IWolverineRuntime>().Storage.Inbox.StoreIncomingAsync(envelope);

        await using var second =
            await AppFixture.StartAsync(TestSettings.Base(), messageSchema: AppFixture.MessageSchema("isolation_second"));

        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        await using var owner =
            new NpgsqlCommand($"select owner_id from {schema}.wolverine_incoming_envelopes where id = @id", connection);
        owner.Parameters.AddWithValue("id", envelope.Id);
        (await owner.ExecuteScalarAsync()).ShouldBe(1, "the second host released the first host's message");
    }

    [Fact]
    public async Task the_durability_settings_reach_wolverine_and_the_daemon()
    {
        await TestDatabase.EnsureCreatedAsync();
        var settings = TestSettings.Base();
        settings["Durability:HeartbeatMilliseconds"] = "1500";
        settings["Durability:StaleNodeMilliseconds"] = "4500";
        settings["Durability:StaleNodeEjectionThreshold"] = "3";
        settings["Durability:RecoveryPollingMilliseconds"] = "700";
        settings["Durability:DaemonLeadershipPollingMilliseconds"] = "900";
        await using var host = await AppFixture.StartAsync(settings, messageSchema: AppFixture.MessageSchema("durability_settings"));

        var durability = host.Services.GetRequiredService<IWolverineRuntime>().Options.Durability;
        durability.MessageStorageSchemaName.ShouldBe(AppFixture.MessageSchema("durability_settings"));
        durability.HealthCheckPollingTime.ShouldBe(TimeSpan.FromMilliseconds(1500));
        durability.StaleNodeTimeout.ShouldBe(TimeSpan.FromMilliseconds(4500));
        durability.StaleNodeEjectionThreshold.ShouldBe(3);
        durability.OrphanedMessageSweepPollingTime.ShouldBe(TimeSpan.FromMilliseconds(700));
        var store = (Marten.DocumentStore)host.Services.GetRequiredService<Marten.IDocumentStore>();
        store.Options.Projections.LeadershipPollingTime.ShouldBe(900);
    }

    public sealed record MessageOfAnotherCollection(Guid Id);
}
