using JasperFx.Events.Projections;
using Marten;
using Pantheon.Handlers.Chat;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Settings;
using Pantheon.Projections.Chat;

namespace Pantheon.Web.Chat;

/// <summary>The chat feature's registrations: its settings and services, and its read models in Marten.</summary>
public static class Configuration
{
    public static IServiceCollection AddChat(this IServiceCollection services, IConfiguration configuration)
    {
        var chat = configuration.GetSection(ChatDefaults.Section).Get<ChatDefaults>() ?? new ChatDefaults();
        services.AddSingleton(chat);
        // Where users' custom endpoints may connect: checked at registration and again on every connect.
        services.AddSingleton(Pantheon.Domain.Chat.DestinationPolicy.From(chat.AllowedPrivateNetworks));
        services.AddSingleton<ProviderKeys>();
        services.AddSingleton<ChatClients>();
        services.AddSingleton<ChatTurns>();
        // A user's settings, keys and models in memory between turns, evicted by their own events in every process.
        services.AddSingleton<ChatSetupCache>();
        services.AddSingleton<INotificationListener, ChatSetupListener>();
        // Turns whose process died mid-reply are recorded as interrupted, at start-up and periodically.
        services.AddSingleton<AbandonedTurns>();
        services.AddHostedService(s => s.GetRequiredService<AbandonedTurns>());
        services.ConfigureMarten((sp, opts) => opts.Listeners.Add(new ChatSetupInvalidation(sp.GetRequiredService<ChatSetupCache>())));
        return services;
    }

    public static StoreOptions AddChat(this StoreOptions opts)
    {
        // Turns as rows: a chat reads only the newest that fit its budget (by conversation_id, position, context_length).
        opts.Projections.Add(new ChatTurnProjection(), ProjectionLifecycle.Inline, ChatTurnProjection.Name);
        opts.Schema.For<ChatTurnView>()
            .Duplicate(x => x.ConversationId).Duplicate(x => x.Position).Duplicate(x => x.ContextLength);
        opts.Projections.Add<CustomModelViewProjection>(ProjectionLifecycle.Inline);
        opts.Schema.For<CustomModelView>().Index(x => x.UserId);
        opts.Schema.For<OpenTurn>().Duplicate(x => x.SentAt);
        return opts;
    }

    /// <summary>
    /// The notification that evicts a user's chat setup in other processes. Registered after every inline projection of
    /// the events it watches (budgets included): Marten reads no result of a queued SQL command, so its <c>select</c>
    /// must come after each operation that reads its own result in the same batch.
    /// </summary>
    public static StoreOptions AddChatSetupNotifications(this StoreOptions opts)
    {
        opts.Projections.Add(new ChatSetupNotifier(), ProjectionLifecycle.Inline, "ChatSetupNotifications");
        return opts;
    }
}
