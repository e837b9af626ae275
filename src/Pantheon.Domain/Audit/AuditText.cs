using Pantheon.Domain.Budgets;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Domain.Projects;
using Pantheon.Domain.Settings;
using Pantheon.Domain.Users;

namespace Pantheon.Domain.Audit;

/// <summary>How events read in the audit log: one line each, and never a secret.</summary>
public static class AuditText
{
    public static string Summary(object data) => data switch
    {
        UserRegistered e => $"user {e.UserId} registered ({e.Email ?? "no email"})",
        UserProfileChanged e => $"profile of {e.UserId} changed ({e.Email ?? "no email"}, {e.Name ?? "no name"})",
        SettingsChanged e => $"settings changed: preferred model {e.PreferredModel}",
        KeyAdded e => $"{e.Provider} key '{e.Name}' added (…{e.Hint})",
        KeyRevoked e => $"key {e.KeyId} revoked",
        ProjectRequested e => $"project '{e.Name}' ({e.Os}) requested",
        NetworkAllocated e => $"network {e.NetworkName} allocated with {e.Subnet}",
        SharedFolderPrepared e => $"shared folder prepared, served at {e.ServerAddress}:8888",
        VmBooted e => $"VM booted at {e.VmAddress}",
        ProjectProvisioningFailed e => $"provisioning failed at {e.Step}: {e.Reason}",
        ProvisioningRetried e => $"provisioning retried ({e.Reason})",
        VmStopRequested e => $"VM stop requested ({e.Reason})",
        VmRestartRequested e => $"VM restart requested ({e.Reason})",
        VmStopped e => $"VM stopped ({e.Reason})",
        VmStopFailed e => $"VM stop failed: {e.Reason}",
        VmStartRequested e => $"VM start requested ({e.Reason})",
        VmStarted => "VM started",
        VmStartFailed e => $"VM start failed: {e.Reason}",
        ProjectDeletionRequested => "deletion requested",
        ProjectDeleted => "project deleted",
        ToolCalled e => Tools.ToolRules.AuditSummary(e),
        ToolReturned e => Tools.ToolRules.AuditSummary(e),
        OrphanRemoved e => $"orphaned {e.Kind} {e.Name} of project {e.ProjectId} removed",
        MessageSent e => $"message of {e.Content.Length} characters to {e.Model}",
        ReplyReceived e => $"{(e.Interrupted ? "interrupted " : "")}reply from {e.Model}: {e.TokensIn} tokens in, {e.TokensOut} out, {e.LatencyMs} ms",
        ReplyFailed e => $"reply from {e.Model} failed{(e.ProviderStatus is { } s ? $" ({s})" : "")}: {e.Message}",
        ReplyInterrupted e => $"reply from {e.Model} interrupted: {e.Reason}",
        UsageRecorded e => $"{e.TokensIn + e.TokensOut} tokens on {e.Provider} {e.Model}",
        ChatCleared => "conversation cleared",
        CustomModelAdded e => $"custom model {e.ModelId} added at {e.Endpoint}",
        CustomModelRemoved e => $"custom model {e.Id} removed",
        BudgetSet e => $"{(e.UserId is null ? "default monthly budget" : $"monthly budget of {e.UserId}")} "
            + (e.MonthlyTokens is { } tokens ? $"set to {tokens} tokens" : "removed"),
        _ => data.GetType().Name,
    };

    /// <summary>The fields of events that never leave the system, by event type: a key's ciphertext.</summary>
    public static readonly IReadOnlyDictionary<Type, string[]> SecretFields = new Dictionary<Type, string[]>
    {
        [typeof(KeyAdded)] = [nameof(KeyAdded.Ciphertext)],
    };

    /// <summary>The event's data as it may leave the system: the <see cref="SecretFields"/> are blanked.</summary>
    public static object Redacted(object data) => data switch
    {
        KeyAdded e => e with { Ciphertext = "[redacted]" },
        _ => data,
    };
}
