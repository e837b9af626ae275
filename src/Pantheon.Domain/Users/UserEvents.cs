namespace Pantheon.Domain.Users;

/// <summary>The first time a subject is seen: the profile from the token's claims.</summary>
public sealed record UserRegistered(string UserId, string? Email, string? Name, string? Picture, DateTimeOffset At);

/// <summary>A later sign-in whose claims differ from the recorded profile.</summary>
public sealed record UserProfileChanged(string UserId, string? Email, string? Name, string? Picture, DateTimeOffset At);
