using System.Text.Json;
using Marten.Events.Aggregation;
using Pantheon.Domain.Chat;

namespace Pantheon.Projections.Chat;

/// <summary>A user's own model, as listed and as chat routes to it.</summary>
public sealed class CustomModelView
{
    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string ModelId { get; set; } = "";
    public string Provider { get; set; } = "";
    public string Endpoint { get; set; } = "";
    public Guid? KeyId { get; set; }
    public Dictionary<string, JsonElement>? Parameters { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>What the user declared the model takes; null: not declared.</summary>
    public string[]? InputModalities { get; set; }
}

public sealed partial class CustomModelViewProjection : SingleStreamProjection<CustomModelView, Guid>
{
    public CustomModelView Create(CustomModelAdded e) => new()
    {
        Id = e.Id, UserId = e.UserId, ModelId = e.ModelId, Provider = e.Provider, Endpoint = e.Endpoint, KeyId = e.KeyId,
        Parameters = e.Parameters, CreatedAt = e.At, InputModalities = e.InputModalities,
    };

    public bool ShouldDelete(CustomModelRemoved e) => true;
}
