namespace Pantheon.IntegrationTests.Infrastructure;

/// <summary>Polls a condition until it holds or a deadline passes: how tests wait for background work.</summary>
public static class Eventually
{
    public static async Task<T> Get<T>(Func<Task<T>> read, Func<T, bool> done, TimeSpan timeout, string what, int pollMilliseconds = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        T last;
        while (true)
        {
            last = await read();
            if (done(last)) return last;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {timeout.TotalSeconds} s waiting for {what}; last seen: {last}");
            await Task.Delay(pollMilliseconds);
        }
    }
}
