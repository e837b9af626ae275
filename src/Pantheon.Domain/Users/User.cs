namespace Pantheon.Domain.Users;

/// <summary>A user's profile, rebuilt from the user's stream.</summary>
public sealed partial class User
{
    public Guid Id { get; set; }
    public string UserId { get; set; } = "";
    public string? Email { get; set; }
    public string? Name { get; set; }
    public string? Picture { get; set; }
    public DateTimeOffset RegisteredAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public int Version { get; set; }

    public static User Create(UserRegistered e) => new()
    {
        UserId = e.UserId, Email = e.Email, Name = e.Name, Picture = e.Picture,
        RegisteredAt = e.At, UpdatedAt = e.At,
    };

    public void Apply(UserProfileChanged e)
    {
        Email = e.Email;
        Name = e.Name;
        Picture = e.Picture;
        UpdatedAt = e.At;
    }
}

/// <summary>The identity claims a request arrives with.</summary>
public sealed record SignIn(string UserId, string? Email, string? Name, string? Picture);

public static class UserDecider
{
    /// <summary>Registers a new subject, records changed claims, and is a no-op otherwise.</summary>
    public static object[] Decide(SignIn signIn, User? current, DateTimeOffset now)
    {
        if (current is null)
            return [new UserRegistered(signIn.UserId, signIn.Email, signIn.Name, signIn.Picture, now)];

        var unchanged = current.Email == signIn.Email && current.Name == signIn.Name && current.Picture == signIn.Picture;
        return unchanged ? [] : [new UserProfileChanged(signIn.UserId, signIn.Email, signIn.Name, signIn.Picture, now)];
    }
}
