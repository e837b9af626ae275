using System.Security.Claims;
using FluentValidation;
using Marten;
using Pantheon.Domain.Settings;
using Pantheon.Handlers.Settings;
using Pantheon.Web.Auth;
using Wolverine.Http;

namespace Pantheon.Web.Settings;

/// <summary>The caller's chat settings.</summary>
public sealed record SettingsResponse(string PreferredModel, ModelParameters ModelParameters, DateTimeOffset? UpdatedAt)
{
    public static SettingsResponse From(UserSettings s) => new(s.PreferredModel, s.ModelParameters, s.UpdatedAt);
}

/// <summary><c>PUT /api/user/settings</c>: an absent field, nested in <c>model_parameters</c> or not, keeps its current value.</summary>
public sealed record UpdateSettings(string? PreferredModel, ModelParameters? ModelParameters)
{
    public sealed class Validator : AbstractValidator<UpdateSettings>
    {
        public Validator()
        {
            RuleFor(x => x.PreferredModel).Cascade(CascadeMode.Stop)
                .Must(m => !string.IsNullOrWhiteSpace(m)).WithMessage("preferred_model must not be empty.")
                .MaximumLength(200)
                .Matches(@"^[A-Za-z0-9][A-Za-z0-9._:/@+\-]*$").WithMessage("preferred_model may hold letters, digits and . _ : / @ + - only.")
                .When(x => x.PreferredModel is not null);
            RuleFor(x => x.ModelParameters).Custom((parameters, context) =>
            {
                foreach (var (field, message) in parameters?.Errors("model_parameters") ?? []) context.AddFailure(field, message);
            });
        }
    }
}

public static class SettingsEndpoints
{
    [WolverineGet("/api/user/settings", OperationId = "GetSettings")]
    public static async Task<SettingsResponse> Get(ClaimsPrincipal principal, IQuerySession session, ChatDefaults defaults, CancellationToken ct)
    {
        var userId = principal.UserId();
        var settings = await session.LoadAsync<UserSettings>(Pantheon.Domain.Users.UserId.SettingsStreamFor(userId), ct);
        return SettingsResponse.From(settings ?? UserSettings.DefaultsFor(userId, defaults.DefaultModel));
    }

    [WolverinePut("/api/user/settings", OperationId = "UpdateSettings")]
    public static async Task<SettingsResponse> Put(UpdateSettings command, ClaimsPrincipal principal, IDocumentSession session,
        ChatDefaults defaults, TimeProvider time, CancellationToken ct)
    {
        var userId = principal.UserId();
        var stream = await session.Events.FetchForWriting<UserSettings>(Pantheon.Domain.Users.UserId.SettingsStreamFor(userId), ct);
        var current = stream.Aggregate ?? UserSettings.DefaultsFor(userId, defaults.DefaultModel);
        var now = time.GetUtcNow();
        var events = SettingsDecider.Decide(userId, new SettingsChange(command.PreferredModel, command.ModelParameters), current, now);
        stream.AppendMany(events);
        return events is [SettingsChanged changed]
            ? new SettingsResponse(changed.PreferredModel, changed.ModelParameters, changed.At)
            : SettingsResponse.From(current);
    }
}
