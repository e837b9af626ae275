using Pantheon.Handlers.Projects;

namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>Removes a test host's labelled containers, networks and volumes when its fixture starts and ends.</summary>
public static class TestMachines
{
    private const int Rounds = 5;

    /// <summary>
    /// Containers first: the engine refuses to remove a network or volume still in use. A saga step still in flight
    /// can add a container to a network between the listing and its removal, so what is left is listed again; only a
    /// failure that outlasts every round is thrown.
    /// </summary>
    public static async Task RemoveAllAsync(IVmHost host)
    {
        for (var round = 1; ; round++)
        {
            var left = await host.ListLabelledAsync(default);
            if (left.Count == 0) return;
            try
            {
                foreach (var resource in left.OrderBy(r => r.Kind == "container" ? 0 : 1)) await host.RemoveAsync(resource, default);
            }
            catch (VmHostException) when (round < Rounds)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500)); // let the step that raced us finish, then list again
            }
        }
    }
}
