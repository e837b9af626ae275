using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Pantheon.Domain.Chat;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Settings;

namespace Pantheon.Handlers.Chat;

/// <summary>
/// OpenRouter's model catalogue (<c>GET {Chat:BaseUrls:openrouter}/models</c>, public, no key): what each of its models takes.
/// Read at its first need, then kept for <c>Chat:CatalogueRefreshMinutes</c>; past that it keeps serving while one read in the
/// background replaces it. A catalogue that cannot be read leaves the one in hand, or none: then <c>Chat:TextOnlyModels</c>
/// decides (<see cref="ModelInputs.TakesImages"/>), a warning says so once, and a need a minute later reads again.
/// </summary>
public sealed class OpenRouterCatalogue(ChatDefaults settings, TimeProvider time, ILogger<OpenRouterCatalogue> logger) : IDisposable
{
    /// <summary>The longest a read may take: a turn may be waiting for the first one.</summary>
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How soon a catalogue that could not be read is read again (at the next need).</summary>
    public static readonly TimeSpan RetryAfterFailure = TimeSpan.FromMinutes(1);

    // OpenRouter lists a few hundred models in well under a MiB; more than this is not its catalogue.
    private readonly HttpClient _http = new() { Timeout = ReadTimeout, MaxResponseContentBufferSize = 16 * 1024 * 1024 };
    private readonly Lock _gate = new();
    private ModelCatalogue? _known;
    private Task<ModelCatalogue?>? _reading;
    private DateTimeOffset? _due; // when to read again; null before the first read
    private bool _warned;

    /// <summary>
    /// The catalogue for a turn about to run: the one in hand, however old (a read due starts in the background); before any
    /// was read, the first read, awaited (at most <see cref="ReadTimeout"/>). Null when none could be read.
    /// </summary>
    public Task<ModelCatalogue?> GetAsync()
    {
        lock (_gate)
        {
            StartIfDue();
            return _known is null && _reading is { } first ? first : Task.FromResult(_known);
        }
    }

    /// <summary>The catalogue in hand now, without waiting (null before a first read has ended); starts a read that is due.</summary>
    public ModelCatalogue? Peek()
    {
        lock (_gate)
        {
            StartIfDue();
            return _known;
        }
    }

    private void StartIfDue()
    {
        if (_reading is null && (_due is null || time.GetUtcNow() >= _due)) _reading = Task.Run(ReadAsync);
    }

    private async Task<ModelCatalogue?> ReadAsync()
    {
        var url = settings.BaseUrls.GetValueOrDefault(Providers.OpenRouter)?.TrimEnd('/') + "/models";
        ModelCatalogue? read = null;
        Exception? failure = null;
        try
        {
            using var response = await _http.GetAsync(url);
            response.EnsureSuccessStatusCode();
            read = Parse(await response.Content.ReadFromJsonAsync<JsonElement>());
        }
        catch (Exception e) when (e is HttpRequestException or OperationCanceledException or JsonException or InvalidDataException
            or InvalidOperationException or UriFormatException or NotSupportedException)
        {
            failure = e;
        }

        bool warn;
        ModelCatalogue? known;
        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (read is not null) _known = read;
            _due = now + (read is not null ? TimeSpan.FromMinutes(settings.CatalogueRefreshMinutes) : RetryAfterFailure);
            warn = failure is not null && !_warned;
            _warned = failure is not null;
            _reading = null;
            known = _known;
        }
        if (warn)
        {
            logger.LogWarning(failure, "OpenRouter's model catalogue could not be read from {Url}; {Fallback} until it can be",
                url, known is null ? "Chat:TextOnlyModels decides which of its models take images" : "the catalogue read before serves");
        }
        else if (failure is not null)
            logger.LogDebug(failure, "OpenRouter's model catalogue could still not be read from {Url}", url);
        return known;
    }

    /// <summary>
    /// The catalogue from OpenRouter's answer: <c>{"data": [{"id", "architecture": {"input_modalities": [...]}}, ...]}</c>. A
    /// model without its input modalities is left out (nothing declared); an answer without <c>data</c> is not the catalogue.
    /// </summary>
    public static ModelCatalogue Parse(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("data", out var data)
            || data.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException("The answer has no \"data\" array of models.");
        var models = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var model in data.EnumerateArray())
        {
            if (model.ValueKind == JsonValueKind.Object
                && model.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
                && model.TryGetProperty("architecture", out var architecture) && architecture.ValueKind == JsonValueKind.Object
                && architecture.TryGetProperty("input_modalities", out var inputs) && inputs.ValueKind == JsonValueKind.Array)
            {
                models[id.GetString()!] =
                    [.. inputs.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.String).Select(m => m.GetString()!)];
            }
        }
        return new ModelCatalogue(models);
    }

    public void Dispose() => _http.Dispose();
}
