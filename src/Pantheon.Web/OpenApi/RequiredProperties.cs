using System.Reflection;
using System.Text.Json.Serialization.Metadata;
using FluentValidation;
using FluentValidation.Validators;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Pantheon.Web.OpenApi;

/// <summary>
/// A property is <c>required</c> when a client must send it or will always find it: its type is not nullable, or the
/// type's FluentValidation validator demands it unconditionally (<c>NotNull</c>, <c>NotEmpty</c>, <c>Equal</c> to a
/// value). A nullable property without such a rule may be absent: <c>project_id</c> on chat, <c>preferred_model</c>
/// on settings. (The JSON schema exporter would otherwise mark every constructor parameter of a record required.)
/// A property the validator demands is also not <c>null</c> in the schema.
/// </summary>
internal sealed class RequiredProperties : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var type = context.JsonTypeInfo;
        // Framework types (ProblemDetails and kin) keep their own contract: a JSON-shape 400 has no `errors` map.
        if (context.JsonPropertyInfo is not null || type.Kind != JsonTypeInfoKind.Object || schema.Properties is not { Count: > 0 }
            || type.Type.Namespace?.StartsWith("Pantheon.", StringComparison.Ordinal) != true)
            return Task.CompletedTask;

        var demanded = DemandedByValidator(type.Type, context.ApplicationServices);
        var required = type.Properties
            .Where(p => schema.Properties.ContainsKey(p.Name) && (!IsNullable(p) || demanded.Contains(ClrName(p))))
            .Select(p => p.Name)
            .ToHashSet(StringComparer.Ordinal);
        schema.Required = required.Count == 0 ? null : required;
        // A property the validator demands is refused as null too, though its CLR type is nullable.
        foreach (var name in type.Properties.Where(p => demanded.Contains(ClrName(p))).Select(p => p.Name))
        {
            if (schema.Properties[name] is OpenApiSchema { Type: { } kind } property) property.Type = kind & ~JsonSchemaType.Null;
        }
        return Task.CompletedTask;
    }

    private static bool IsNullable(JsonPropertyInfo property) =>
        Nullable.GetUnderlyingType(property.PropertyType) is not null
        || !property.PropertyType.IsValueType && (property.IsGetNullable || property.IsSetNullable);

    private static string ClrName(JsonPropertyInfo property) => (property.AttributeProvider as MemberInfo)?.Name ?? property.Name;

    /// <summary>CLR names of the properties that the type's validator rejects when absent, whatever else was sent.</summary>
    private static HashSet<string> DemandedByValidator(Type type, IServiceProvider services)
    {
        if (services.GetService(typeof(IValidator<>).MakeGenericType(type)) is not IValidator validator) return [];
        return validator.CreateDescriptor().GetMembersWithValidators()
            .Where(member => member.Any(v => !v.Options.HasCondition && !v.Options.HasAsyncCondition && RejectsNull(v.Validator)))
            .Select(member => member.Key)
            .ToHashSet(StringComparer.Ordinal);
    }

    private static bool RejectsNull(IPropertyValidator validator) => validator switch
    {
        INotNullValidator or INotEmptyValidator => true,
        IComparisonValidator { Comparison: Comparison.Equal, ValueToCompare: not null } => true,
        _ => false,
    };
}
