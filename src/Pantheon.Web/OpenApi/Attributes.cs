namespace Pantheon.Web.OpenApi;

/// <summary>
/// Problem answers (<c>application/problem+json</c>) that this endpoint gives besides the ones every operation
/// declares by convention (see <see cref="OperationConventions"/>): a 404 for an id in the query, 409, 422, 502, ...
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class, AllowMultiple = true)]
public sealed class ProducesProblemsAttribute(params int[] statuses) : Attribute
{
    public IReadOnlyList<int> Statuses { get; } = statuses;
}

/// <summary>The endpoint answers <c>text/event-stream</c> with its 200 when the client asks for it in <c>Accept</c>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ProducesEventStreamAttribute(string description) : Attribute
{
    public string Description { get; } = description;
}
