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

        await using var second = await AppFixture.StartAsync(TestSettings.Base(), messageSchema: AppFixture.MessageSchema("isolation_second"));

        await using var connection = new NpgsqlConnection(TestDatabase.ConnectionString);
        await connection.OpenAsync();
        await using var owner = new NpgsqlCommand($"select owner_id from {schema}.wolverine_incoming_envelopes where id = @id", connection);
        owner.Parameters.AddWithValue("id", envelope.Id);
        (await owner.ExecuteScalarAsync()).ShouldBe(1, "the second host released the first host's message");
    }

    public sealed record MessageOfAnotherCollection(Guid Id);
}
