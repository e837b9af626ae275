using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>
/// Memory that PostgreSQL's notifications keep honest, for the caches of the chat path. Every change bumps a generation:
/// a read that began before a change must not keep what it read (<see cref="Keep"/>). While the notification connection
/// is down (<see cref="Suspend"/>, also the state before it is first made) changes cannot arrive, so nothing is served or
/// kept; when it is back (<see cref="Resume"/>) everything is forgotten, since changes sent meanwhile never arrived.
/// </summary>
public abstract class NotifiedMemory<TKey, TEntry>(IEqualityComparer<TKey>? comparer = null)
    where TKey : notnull where TEntry : class
{
    private const int MaxEntries = 10_000;

    protected ConcurrentDictionary<TKey, TEntry> Entries { get; } = new(comparer);

    private long _generation;
    private volatile bool _suspended = true;

    /// <summary>Taken before a read, and handed to <see cref="Keep"/> with what it read.</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>The entry memory may serve: none while suspended.</summary>
    protected bool TryServe(TKey key, [NotNullWhen(true)] out TEntry? entry)
    {
        entry = null;
        return !_suspended && Entries.TryGetValue(key, out entry);
    }

    /// <summary>
    /// Keeps what a read found, unless a change it may have missed happened since <paramref name="generation"/>. An entry
    /// already there is replaced only when <paramref name="replace"/> (else what is there is newer than the read).
    /// </summary>
    protected void Keep(TKey key, TEntry entry, long generation, bool replace)
    {
        if (_suspended) return;
        if (Entries.Count >= MaxEntries) Entries.Clear();
        if (replace) Entries[key] = entry;
        else if (!Entries.TryAdd(key, entry)) return;
        // A change that ran while we read may have missed our entry: drop it if one did.
        if (Generation != generation) Entries.TryRemove(new KeyValuePair<TKey, TEntry>(key, entry));
    }

    /// <summary>Something changed that a read in flight may have missed.</summary>
    protected void Changed() => Interlocked.Increment(ref _generation);

    /// <summary>Forgets one entry.</summary>
    protected void Forget(TKey key)
    {
        Changed();
        Entries.TryRemove(key, out _);
    }

    /// <summary>Forgets everything.</summary>
    public void Clear()
    {
        Changed();
        Entries.Clear();
    }

    /// <summary>The notification connection broke: serve nothing from memory until <see cref="Resume"/>.</summary>
    public void Suspend()
    {
        _suspended = true;
        Clear();
    }

    /// <summary>The notification connection is back: forget what was kept (changes may have been missed) and keep again.</summary>
    public void Resume()
    {
        Clear();
        _suspended = false;
    }
}
