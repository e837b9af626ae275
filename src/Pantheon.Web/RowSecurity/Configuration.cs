using Microsoft.AspNetCore.Authorization;
using Pantheon.Domain.Budgets;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;
using Pantheon.Handlers.Budgets;
using Pantheon.Handlers.Infrastructure;
using Pantheon.Handlers.Keys;
using Pantheon.Handlers.Viewer;
using Pantheon.Projections.Audit;
using Pantheon.Projections.Chat;
using Pantheon.Projections.Keys;
using Pantheon.Projections.Projects;
using Pantheon.Web.Auth;

namespace Pantheon.Web.RowSecurity;

/// <summary>Row-level security: which tables are users' own, and who the database serves in each request.</summary>
public static class RowSecurityConfiguration
{
    /// <summary>
    /// Every user-owned table and its owner. A new read model of a user's data is added here, and <c>resources setup</c>
    /// gives it its policies; a test fails for a table in the schema that holds a user id and is missing here.
    /// </summary>
    public static RowPolicies UserOwnedTables() => new RowPolicies()
        .Document<ProjectView>(nameof(ProjectView.OwnerId))
        // Write models used as stream types (no rows today): held to the same rule should Marten ever store them.
        .Document<Project>(nameof(Project.OwnerId))
        // The operators' dashboard: read on the system path (operator routes); a user's transaction sees only its own.
        .Document<ProjectOverview>(nameof(ProjectOverview.OwnerId))
        .Document<ProviderKey>(nameof(ProviderKey.UserId))
        .Document<ProviderKeyView>(nameof(ProviderKeyView.UserId))
        .Document<ProviderKeySecret>(nameof(ProviderKeySecret.UserId))
        .Document<CustomModelView>(nameof(CustomModelView.UserId))
        .Document<ChatTurnView>(nameof(ChatTurnView.UserId))
        .Document<OpenTurn>(nameof(OpenTurn.UserId))
        .Document<User>(nameof(User.UserId))
        .Document<UserSettings>(nameof(UserSettings.UserId))
        .Document<AuditEntry>(nameof(AuditEntry.UserId))
        // The default budget has no owner: every user reads it, only operators write it.
        .Document<Budget>(nameof(Budget.UserId), sharedWhenNoOwner: true)
        .Table(UsageTotals.TotalsTable, "user_id")
        .Table(BudgetLedger.LedgerTable, "user_id")
        .Table(BudgetLedger.ReservationsTable, "user_id")
        .Table(ViewerTickets.Table, "user_id")
        .Table(Pantheon.Handlers.Chat.ToolApprovals.Table, "user_id");

    /// <summary>
    /// Sets the request's <see cref="DatabaseActor"/>: the token's user, or the system path on operator routes (those
    /// that demand the <c>pantheon-admin</c> role). Async, so the actor ends with the request.
    /// </summary>
    public static IApplicationBuilder UseDatabaseActor(this IApplicationBuilder app) => app.Use(async (context, next) =>
    {
        DatabaseActor.Enter(ActorOf(context));
        await next(context);
    });

    private static DatabaseActor? ActorOf(HttpContext context)
    {
        var operatorRoute = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IAuthorizeData>()
            .Any(a => a.Roles?.Split(',').Contains(AuthSettings.AdminRole) == true) == true;
        if (operatorRoute) return new DatabaseActor.System($"operator route {context.Request.Path}");
        return context.User.FindFirst("sub")?.Value is { Length: > 0 } sub ? new DatabaseActor.User(sub) : null;
    }
}
