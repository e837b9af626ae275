using System.Security.Claims;
using FluentValidation;
using Marten;
using Microsoft.AspNetCore.Mvc;
using Pantheon.Domain.Keys;
using Pantheon.Handlers.Keys;
using Pantheon.Projections.Keys;
using Pantheon.Web.Auth;
using Pantheon.Web.OpenApi;
using Pantheon.Web.Limits;
using Wolverine.Http;
using Wolverine.Marten;

namespace Pantheon.Web.Keys;

/// <summary><c>POST /api/user/api-keys</c>.</summary>
public sealed record AddApiKey(string? Name, string? Provider, string? Key)
{
    public const int MaxKeyLength = 4096;

    public sealed class Validator : AbstractValidator<AddApiKey>
    {
        public Validator()
        {
            RuleFor(x => x.Name).NotEmpty().MaximumLength(100);
            RuleFor(x => x.Provider).NotEmpty().Must(Providers.IsKnown)
                .WithMessage($"provider must be one of: {string.Join(", ", Providers.All)}.");
            RuleFor(x => x.Key).NotEmpty().MinimumLength(8).MaximumLength(MaxKeyLength)
                .Must(k => k is null || !k.Any(char.IsWhiteSpace)).WithMessage("key must not contain whitespace.");
        }
    }
}

public static class AddApiKeyEndpoint
{
    /// <summary>At most <see cref="UserLimits.ApiKeysPerUser"/> unrevoked keys, however many adds run at once.</summary>
    public static Task<ProblemDetails> ValidateAsync(ClaimsPrincipal principal, IDocumentSession session, UserLimits limits,
        CancellationToken ct)
    {
        var userId = principal.UserId();
        return Caps.CheckAsync<ProviderKeyView>(session, userId, k => k.UserId == userId,
            limits.ApiKeysPerUser, "Limits:ApiKeysPerUser", "Unrevoked API keys per user", ct);
    }

    /// <summary>Seals the key, stores its wrapped data key as a document and the ciphertext in <see cref="KeyAdded"/>.</summary>
    [WolverinePost("/api/user/api-keys", OperationId = "AddApiKey")]
    [ProducesProblems(StatusCodes.Status409Conflict)]
    public static (ApiKeyCreated, IStartStream, IMartenOp) Post(AddApiKey command, ClaimsPrincipal principal, IProviderKeyCipher cipher, TimeProvider time)
    {
        var userId = principal.UserId();
        var keyId = Guid.CreateVersion7();
        var key = command.Key!;
        var sealedKey = cipher.Seal(userId, keyId, key);
        var added = new KeyAdded(keyId, userId, command.Name!.Trim(), command.Provider!, KeyDecider.HintOf(key), sealedKey.Ciphertext, time.GetUtcNow());

        return (new ApiKeyCreated(keyId, added.Name, added.Provider, added.Hint, added.At),
            MartenOps.StartStream<ProviderKey>(keyId, added),
            MartenOps.Store(new ProviderKeySecret { Id = keyId, UserId = userId, Ciphertext = sealedKey.Ciphertext, WrappedDataKey = sealedKey.WrappedDataKey }));
    }
}
