using System.Reflection;
using Pantheon.Projections.Keys;
using Wolverine.Http;

namespace Pantheon.Web.Keys;

/// <summary>A provider key as the API shows it: a hint, never the key.</summary>
public record ApiKeyResponse(Guid Id, string Name, string Provider, string Hint, DateTimeOffset CreatedAt)
{
    public static ApiKeyResponse From(ProviderKeyView v) => new(v.Id, v.Name, v.Provider, v.Hint, v.CreatedAt);
}

/// <summary>201 with a <c>Location</c> for the new key.</summary>
public sealed record ApiKeyCreated(Guid Id, string Name, string Provider, string Hint, DateTimeOffset CreatedAt)
    : ApiKeyResponse(Id, Name, Provider, Hint, CreatedAt), IHttpAware
{
    public void Apply(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status201Created;
        context.Response.Headers.Location = $"/api/user/api-keys/{Id}";
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status201Created, typeof(ApiKeyCreated), ["application/json"]));
}
