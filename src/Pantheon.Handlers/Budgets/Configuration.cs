using JasperFx.Events.Projections;
using Marten;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.Domain.Budgets;
using Weasel.Postgresql;
using Weasel.Postgresql.Tables;

namespace Pantheon.Handlers.Budgets;

/// <summary>Everything the budgets feature registers: its aggregate, its ledger's tables, the ledger and its settings.</summary>
public static class BudgetConfiguration
{
    public static StoreOptions AddBudgets(this StoreOptions opts)
    {
        // Inline: the ledger reads the budget in force straight from this document in the reserving statement.
        opts.Projections.Snapshot<Budget>(SnapshotLifecycle.Inline);

        var ledger = new Table(Name(opts, BudgetLedger.LedgerTable));
        ledger.AddColumn<string>("user_id").AsPrimaryKey();
        ledger.AddColumn("month", "date").AsPrimaryKey();
        ledger.AddColumn<long>("spent").NotNull().DefaultValue(0);
        ledger.AddColumn<long>("reserved").NotNull().DefaultValue(0);

        var reservations = new Table(Name(opts, BudgetLedger.ReservationsTable));
        reservations.AddColumn<Guid>("id").AsPrimaryKey();
        reservations.AddColumn<string>("user_id").NotNull();
        reservations.AddColumn("month", "date").NotNull();
        reservations.AddColumn<long>("tokens").NotNull();
        reservations.AddColumn("expires_at", "timestamptz").NotNull();
        reservations.Indexes.Add(
            new IndexDefinition($"ix_{BudgetLedger.ReservationsTable}_user_expiry") { Columns = ["user_id", "expires_at"] });

        opts.Storage.ExtendedSchemaObjects.Add(ledger);
        opts.Storage.ExtendedSchemaObjects.Add(reservations);
        return opts;
    }

    private static PostgresqlObjectName Name(StoreOptions opts, string table) =>
        new(opts.DatabaseSchemaName, table, SchemaUtils.IdentifierUsage.General);

    public static IServiceCollection AddBudgets(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(configuration.GetSection(BudgetSettings.Section).Get<BudgetSettings>() ?? new BudgetSettings());
        services.AddSingleton<BudgetLedger>();
        return services;
    }
}
