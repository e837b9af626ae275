using Marten;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Projects;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Projects;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests.Projects;

/// <summary>A project holds one subnet, whichever process leases it and however many times at once.</summary>
[Collection(AppCollection.Name)]
public class SubnetLeaseTests(AppFixture app)
{
    [Fact]
    public async Task one_project_leased_by_many_processes_at_once_holds_one_subnet()
    {
        var projectId = Guid.NewGuid();
        // A SubnetLeases of its own per lease: as many backend processes, each sure it is the only one. Each sees the engine
        // use a different number of the pool's subnets, so each picks another free one: the primary key alone lets them all in.
        var services = app.Host.Services;
        var settings = services.GetRequiredService<ProjectSettings>();
        var pool = new SubnetPool(settings.SubnetPool).All().Select(s => s.Cidr).ToList();
        var leasers = Enumerable.Range(0, 8).Select(_ => new SubnetLeases(services.GetRequiredService<ActorSessions>(), settings,
            TimeProvider.System)).ToList();

        try
        {
            var subnets = await Task.WhenAll(leasers.Select((l, i) => Task.Run(() => l.LeaseAsync(projectId, pool[..i], default))));

            subnets.Distinct().ShouldHaveSingleItem();
            await using var session = services.GetRequiredService<IDocumentStore>().QuerySession();
            (await session.Query<SubnetLease>().Where(l => l.ProjectId == projectId).ToListAsync()).ShouldHaveSingleItem()
                .Id.ShouldBe(subnets[0].Cidr);
        }
        finally
        {
            await leasers[0].ReleaseAsync(projectId, default);
        }
    }

    [Fact]
    public async Task a_second_lease_for_one_project_is_refused_by_the_database()
    {
        var projectId = Guid.NewGuid();
        var leases = app.Host.Services.GetRequiredService<SubnetLeases>();
        await leases.LeaseAsync(projectId, [], default);
        // A subnet no project holds (leases are taken from the pool's start), so that only the project's own lease can refuse it.
        List<string> held;
        await using (var query = app.Host.Services.GetRequiredService<IDocumentStore>().QuerySession())
            held = (await query.Query<SubnetLease>().Select(l => l.Id).ToListAsync()).ToList();
        var other = new SubnetPool(app.Host.Services.GetRequiredService<ProjectSettings>().SubnetPool).All().Reverse()
            .First(s => !held.Contains(s.Cidr));

        try
        {
            await using var session = app.Host.Services.GetRequiredService<ActorSessions>().ForSystem("a test's second lease");
            session.Insert(new SubnetLease { Id = other.Cidr, ProjectId = projectId, LeasedAt = DateTimeOffset.UtcNow });
            Exception? refused = null;
            try { await session.SaveChangesAsync(); }
            catch (Exception e) { refused = e; }
            // The index on the project's id refused it (Marten names the index in the error), not the subnet's primary key.
            refused.ShouldNotBeNull("a second lease for one project was stored").ToString().ShouldContain("mt_doc_subnetlease_uidx_project_id");
        }
        finally
        {
            await leases.ReleaseAsync(projectId, default);
        }
    }
}
