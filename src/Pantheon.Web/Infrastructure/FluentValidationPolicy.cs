using FluentValidation;
using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Frames;
using Wolverine.Http;
using Wolverine.Http.CodeGen;
using JasperFx;

namespace Pantheon.Web.Infrastructure;

/// <summary>
/// Runs the FluentValidation validator of an endpoint's request body before the endpoint, and answers 400 with a
/// field-level problem when it fails. Our stand-in for WolverineFx.Http.FluentValidation, which is not served here.
/// </summary>
public sealed class FluentValidationPolicy : IHttpPolicy
{
    public void Apply(IReadOnlyList<HttpChain> chains, GenerationRules rules, IServiceContainer container)
    {
        foreach (var chain in chains.Where(c => c.HasRequestType))
        {
            var validator = typeof(IValidator<>).MakeGenericType(chain.RequestType!);
            if (!container.RegistrationsFor(validator).Any()) continue;

            chain.Metadata.ProducesValidationProblem();
            var method = typeof(FluentValidationExecutor).GetMethod(nameof(FluentValidationExecutor.ValidateAsync))!
                .MakeGenericMethod(chain.RequestType!);
            var call = new MethodCall(typeof(FluentValidationExecutor), method) { CommentText = "FluentValidation of the request body" };
            // First: a malformed body is a 400 before any Validate method reads the database or takes a lock.
            chain.Middleware.Insert(0, call);
            chain.Middleware.Insert(1, new MaybeEndWithResultFrame(call.ReturnVariable!));
        }
    }
}

public static class FluentValidationExecutor
{
    /// <summary>Continues when the body is valid; otherwise a validation problem keyed by snake_case field names.</summary>
    public static async Task<IResult> ValidateAsync<T>(IValidator<T> validator, T message, HttpContext context)
    {
        var result = await validator.ValidateAsync(message, context.RequestAborted);
        if (result.IsValid) return WolverineContinue.Result();

        var errors = result.Errors
            .GroupBy(e => FieldName(e.PropertyName))
            .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray());
        return Results.ValidationProblem(errors, title: "The request is not valid.", instance: context.Request.Path);
    }

    /// <summary><c>ModelParameters.MaxTokens</c> becomes <c>model_parameters.max_tokens</c>, as the client wrote it.</summary>
    private static string FieldName(string propertyPath) =>
        string.Join('.', propertyPath.Split('.').Select(p => System.Text.Json.JsonNamingPolicy.SnakeCaseLower.ConvertName(p)));
}
