using Pantheon.Domain.Projects;

namespace Pantheon.Domain.Tests.Projects;

public class SubnetPoolTests
{
    private readonly SubnetPool pool = new("10.77.0.0/22");

    [Fact]
    public void free_subnets_are_those_neither_leased_nor_overlapping_the_engines_networks_lowest_first()
    {
        var free = pool.Free(leased: ["10.77.0.0/24"], usedByEngine: ["10.77.2.128/25", "fd00::/64", "not a cidr"]).Select(s => s.Cidr);

        free.ShouldBe(["10.77.1.0/24", "10.77.3.0/24"]);
        pool.FirstFree(["10.77.0.0/24"], ["10.77.2.128/25"])!.Value.Cidr.ShouldBe("10.77.1.0/24");
    }

    [Fact]
    public void an_engine_network_wider_than_a_subnet_takes_every_subnet_inside_it()
    {
        pool.Free([], ["10.77.0.0/23"]).Select(s => s.Cidr).ShouldBe(["10.77.2.0/24", "10.77.3.0/24"]);
        pool.FirstFree([], ["10.0.0.0/8"]).ShouldBeNull();
    }
}
