using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pantheon.Domain.Tools;

/// <summary>The rules of the tools API that need no I/O: which paths are acceptable, what a call records.</summary>
public static class ToolRules
{
    private static readonly string[] SecretNames = ["secret", "password", "token", "api_key", "apikey", "authorization"];

    /// <summary>Arguments whose content is large or private: recorded as their length only.</summary>
    private static readonly string[] ContentNames = ["content"];

    /// <summary>
    /// The path's parts under the shared folder, or why it is refused: empty, absolute, a drive, a <c>..</c> part, a NUL.
    /// <c>.</c> parts and repeated separators are dropped; <c>\</c> is a separator too (the VM is Windows).
    /// </summary>
    public static (IReadOnlyList<string> Parts, string? Error) SplitPath(string? path, bool allowRoot = false)
    {
        if (path is null) return ([], "path is required");
        if (path.Contains('\0')) return ([], "path must not contain NUL");
        if (path.StartsWith('/') || path.StartsWith('\\') || (path.Length >= 2 && path[1] == ':'))
            return ([], "path must be relative to the shared folder");
        var parts = path.Split('/', '\\').Where(p => p is not ("" or ".")).ToList();
        if (parts.Any(p => p == "..")) return ([], "path must not contain '..'");
        if (parts.Count == 0 && !allowRoot) return ([], "path names the shared folder itself");
        if (parts.Any(p => p.Length > 255)) return ([], "a path part is longer than 255 characters");
        return (parts, null);
    }

    /// <summary>The arguments as <see cref="Projects.ToolCalled"/> keeps them.</summary>
    public static string RecordedArguments(IReadOnlyDictionary<string, JsonElement>? arguments)
    {
        var recorded = new JsonObject();
        foreach (var (name, value) in arguments ?? new Dictionary<string, JsonElement>())
        {
            var lower = name.ToLowerInvariant();
            recorded[name] = SecretNames.Any(lower.Contains) ? "[redacted]"
                : ContentNames.Contains(lower) ? $"[{(value.ValueKind == JsonValueKind.String ? value.GetString()!.Length : value.GetRawText().Length)} characters]"
                : JsonNode.Parse(value.GetRawText());
        }
        return recorded.ToJsonString();
    }

    public static string AuditSummary(Projects.ToolCalled e) => $"tool {e.Tool} called with {Shorten(e.Arguments, 200)}";

    public static string AuditSummary(Projects.ToolReturned e) => e.Error is null
        ? $"tool {e.Tool} returned in {e.DurationMs} ms: {Shorten(e.Summary ?? "", 200)}"
        : $"tool {e.Tool} failed in {e.DurationMs} ms: {Shorten(e.Error, 200)}";

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
