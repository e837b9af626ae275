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
        // What OpenRouter's models take (images or not), read at its first need and kept for Chat:CatalogueRefreshMinutes.
        services.AddSingleton<OpenRouterCatalogue>();
        services.AddSingleton<ChatTurns>();
        // Agent turns: the project's tools over MCP, approvals any process may answer, the project waited for.
        services.AddSingleton<IToolHost, McpToolHost>();
        services.AddSingleton<ToolApprovals>();
        services.AddSingleton<INotificationListener>(s => s.GetRequiredService<ToolApprovals>());
        services.AddSingleton<AgentProjects>();
        services.AddSingleton<INotificationListener>(s => s.GetRequiredService<AgentProjects>());
        // A user's settings, keys and models in memory between turns, evicted by their own events in every process.
        services.AddSingleton<ChatSetupCache>();
        services.AddSingleton<INotificationListener, ChatSetupListener>();
        // A conversation's version and context in memory between turns, kept current by its events in every process.
        services.AddSingleton<ConversationCache>();
        services.AddSingleton<INotificationListener, ConversationListener>();
        // Turns whose process died mid-reply are recorded as interrupted, at start-up and periodically.
        services.AddSingleton<AbandonedTurns>();
        services.AddHostedService(s => s.GetRequiredService<AbandonedTurns>());
        services.ConfigureMarten((sp, opts) =>
        {
            opts.Listeners.Add(new ChatSetupInvalidation(sp.GetRequiredService<ChatSetupCache>()));
            opts.Listeners.Add(new ConversationCacheUpdates(sp.GetRequiredService<ConversationCache>()));
        });
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
        ToolApprovals.AddTable(opts);
        return opts;
    }

    /// <summary>
    /// The notifications that evict a user's chat setup and announce a conversation's new version in other processes.
    /// Registered after every inline projection of the events they watch (budgets included): Marten reads no result of a
    /// queued SQL command, so its <c>select</c> must come after each operation that reads its own result in the same batch.
    /// </summary>
    public static StoreOptions AddChatNotifications(this StoreOptions opts)
    {
        opts.Projections.Add(new ChatSetupNotifier(), ProjectionLifecycle.Inline, "ChatSetupNotifications");
        opts.Projections.Add(new ConversationNotifier(), ProjectionLifecycle.Inline, "ConversationNotifications");
        return opts;
    }
}
