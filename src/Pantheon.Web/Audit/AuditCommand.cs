using System.Globalization;
using System.Text.Json;
using JasperFx.CommandLine;
using JasperFx.Events;
using Marten;
using Pantheon.Domain.Audit;
using Pantheon.Projections.Projects;

namespace Pantheon.Web.Audit;

public sealed class AuditInput : NetCoreInput
{
    [Description("project (a project's timeline, or its state --at a time or version) or export (JSON lines)")]
    public string Action { get; set; } = "";

    [Description("The project id, for 'project'")]
    public string? Id { get; set; }

    [Description("A timestamp (ISO 8601) or a stream version: show the project as it was then")]
    public string? AtFlag { get; set; }

    [Description("Export events at or after this time")]
    public string? FromFlag { get; set; }

    [Description("Export events at or before this time")]
    public string? ToFlag { get; set; }

    [Description("Export only this stream")]
    public string? StreamFlag { get; set; }
}

/// <summary>Replay tooling for operators: read what happened straight from the event store.</summary>
[Description("Audit the event store: 'audit project {id} [--at ..]' or 'audit export [--from ..] [--to ..] [--stream ..]'", Name = "audit")]
public sealed class AuditCommand : JasperFxAsyncCommand<AuditInput>
{
    private static readonly JsonSerializerOptions Json = CreateJson();

    public AuditCommand()
    {
        Usage("Export events as JSON lines").Arguments(x => x.Action);
        Usage("A project's timeline, or the project as it was").Arguments(x => x.Action, x => x.Id!);
    }

    public override async Task<bool> Execute(AuditInput input)
    {
        using var host = input.BuildHost();
        // The operators' command line reads every user's streams: the named system path.
        var sessions = host.Services.GetRequiredService<Pantheon.Handlers.Infrastructure.ActorSessions>();
        await using var session = sessions.ForSystem("audit command");
        switch (input.Action)
        {
            case "project" when Guid.TryParse(input.Id, out var id):
                return input.AtFlag is null ? await Timeline(session, id) : await AsOf(session, id, input.AtFlag);
            case "export":
                // Program runs 'audit export' without a host (EventExport); this path serves a host that is already built.
                var configuration = host.Services.GetRequiredService<IConfiguration>();
                using (var stdout = Console.OpenStandardOutput())
                    EventExport.Write(configuration.GetConnectionString(PantheonApp.ConnectionStringName)!,
                        configuration["Marten:Schema"] ?? "pantheon",
                        new EventExport.Filter(Time(input.FromFlag), Time(input.ToFlag), input.StreamFlag is null ? null : Guid.Parse(input.StreamFlag)),
                        stdout);
                return true;
            default:
                await Console.Error.WriteLineAsync("usage: audit project {id} [--at time|version] | audit export [--from time] [--to time] [--stream id]");
                return false;
        }
    }

    private static async Task<bool> Timeline(IQuerySession session, Guid id)
    {
        var events = await session.Events.FetchStreamAsync(id);
        if (events.Count == 0) return NotFound(id);
        foreach (var e in events)
            Console.WriteLine($"{e.Timestamp.UtcDateTime:yyyy-MM-dd HH:mm:ss.fff}Z  v{e.Version,-3} {e.EventTypeName,-30} {e.UserName ?? "-",-24} {AuditText.Summary(e.Data)}");
        return true;
    }

    private static async Task<bool> AsOf(IQuerySession session, Guid id, string at)
    {
        var project = long.TryParse(at, NumberStyles.None, CultureInfo.InvariantCulture, out var version)
            ? await session.Events.AggregateStreamAsync<ProjectView>(id, version: version)
            : await session.Events.AggregateStreamAsync<ProjectView>(id, timestamp: Time(at));
        if (project is null) return NotFound(id);
        Console.WriteLine(JsonSerializer.Serialize(project, new JsonSerializerOptions(Json) { WriteIndented = true }));
        return true;
    }

    private static DateTimeOffset? Time(string? text) =>
        text is null ? null : DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    private static bool NotFound(Guid id)
    {
        Console.Error.WriteLine($"No events for project {id}.");
        return false;
    }

    private static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions();
        Pantheon.Web.Json.Configure(options);
        return options;
    }
}
