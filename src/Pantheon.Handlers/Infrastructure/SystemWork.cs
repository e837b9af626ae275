using Marten;
using Wolverine;

namespace Pantheon.Handlers.Infrastructure;

/// <summary>
/// Wolverine middleware of every message handler: the saga's steps and the reconciler act for no user, so the
/// handler's session (opened before any middleware runs) and the rest of the handler enter the named system path.
/// </summary>
public static class SystemWork
{
    public static void Before(IDocumentSession session, Envelope envelope)
    {
        var actor = new DatabaseActor.System($"message {envelope.MessageType}");
        DatabaseActor.Enter(actor);
        ActorSessions.Bind(session, actor);
    }
}
