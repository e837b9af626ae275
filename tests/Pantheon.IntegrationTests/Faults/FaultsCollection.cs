namespace Pantheon.IntegrationTests.Faults;

/// <summary>The fault suite: real backend processes, killed nodes, a stopped engine, a restarted database. Runs alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultsCollection
{
    public const string Name = "faults";
}
