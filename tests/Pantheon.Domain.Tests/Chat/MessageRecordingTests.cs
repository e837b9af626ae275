using Pantheon.Handlers.Chat;

namespace Pantheon.Domain.Tests.Chat;

/// <summary>
/// A turn's message commits once: begun by the first text (or the head start), or taken over by the turn's end when it
/// had not begun, so that a reply that came at once is recorded with its message in one commit.
/// </summary>
public class MessageRecordingTests
{
    [Fact]
    public async Task a_commit_taken_over_before_it_began_never_runs()
    {
        var runs = 0;
        var recording = new MessageRecording(() => { Interlocked.Increment(ref runs); return Task.CompletedTask; }, TimeProvider.System);

        recording.TakeOver().ShouldBeTrue();
        recording.Start(); // the first text's start, after the turn ended: nothing to begin
        await recording.Committed;

        runs.ShouldBe(0);
        recording.TakeOver().ShouldBeFalse(); // taken over once
    }

    [Fact]
    public async Task a_commit_that_began_is_not_taken_over_and_runs_once()
    {
        var (began, release, runs) = (new TaskCompletionSource(), new TaskCompletionSource(), 0);
        var recording = new MessageRecording(async () =>
        {
            Interlocked.Increment(ref runs);
            began.TrySetResult();
            await release.Task;
        }, TimeProvider.System);

        recording.Start();
        await began.Task.WaitAsync(TimeSpan.FromSeconds(10));
        recording.TakeOver().ShouldBeFalse();
        recording.Committed.IsCompleted.ShouldBeFalse(); // the caller waits for this commit instead
        release.SetResult();
        await recording.Committed;

        runs.ShouldBe(1);
    }

    [Fact]
    public async Task a_commit_nobody_starts_begins_after_the_head_start()
    {
        var began = new TaskCompletionSource();
        var recording = new MessageRecording(() => { began.TrySetResult(); return Task.CompletedTask; }, TimeProvider.System);

        await began.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await recording.Committed;
        recording.TakeOver().ShouldBeFalse();
    }
}
