namespace Pantheon.Handlers.Chat;

/// <summary>
/// The commit of a turn's message, made while the provider is called. It starts once the provider's first text has been
/// handed on (or its call ended), or after <see cref="HeadStart"/>, whichever comes first: a commit is CPU and database
/// work that would otherwise compete with the call for the first token, and a provider rarely answers within the head
/// start, so the commit still runs while the provider thinks. If it fails, the turn cancels the call and records why.
/// </summary>
public sealed class MessageRecording
{
    /// <summary>The longest the message waits for the provider's first text before it is committed anyway.</summary>
    public static readonly TimeSpan HeadStart = TimeSpan.FromMilliseconds(50);

    private readonly TaskCompletionSource _go = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MessageRecording(Func<Task> commit, TimeProvider time) => Committed = RunAsync(commit, time);

    /// <summary>Completes when the message has committed; faults if it could not be.</summary>
    public Task Committed { get; }

    /// <summary>Starts the commit now (the provider's first text is out, or the call ended); later calls do nothing.</summary>
    public void Start() => _go.TrySetResult();

    /// <summary>
    /// If the commit has not begun (the call ended before the thread pool got to it), it never will, and the caller records
    /// the message itself, with the turn's outcome in the same commit: one commit instead of two. False once it has begun.
    /// </summary>
    public bool TakeOver()
    {
        if (Interlocked.CompareExchange(ref _state, TakenOver, Waiting) != Waiting) return false;
        _go.TrySetResult();
        return true;
    }

    private const int Waiting = 0, Committing = 1, TakenOver = 2;
    private int _state;

    private async Task RunAsync(Func<Task> commit, TimeProvider time)
    {
        // Either way the commit runs on the thread pool, never inline on the thread that streams the reply.
        await _go.Task.WaitAsync(HeadStart, time).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        if (Interlocked.CompareExchange(ref _state, Committing, Waiting) != Waiting) return; // taken over
        await commit();
    }
}
