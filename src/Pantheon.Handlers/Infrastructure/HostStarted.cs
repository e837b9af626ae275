using Microsoft.Extensions.Hosting;

namespace Pantheon.Handlers.Infrastructure;

public static class HostStarted
{
    /// <summary>
    /// Completes once the whole host has started. Hosted services start one after another, and Wolverine's runtime may come
    /// after the service that asks: a message sent before the host has started fails ("Wolverine cannot function until the
    /// underlying IHost has been started").
    /// </summary>
    public static async Task WhenStartedAsync(this IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            await started.Task.WaitAsync(ct);
    }
}
