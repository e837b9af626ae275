using Pantheon.Domain.Users;

namespace Pantheon.Domain.Tests.Users;

public class UserDeciderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void an_unknown_subject_is_registered_from_its_claims()
    {
        var events = UserDecider.Decide(new SignIn("alice", "a@example.com", "Alice", "https://pic"), null, Now);
        events.ShouldHaveSingleItem().ShouldBe(new UserRegistered("alice", "a@example.com", "Alice", "https://pic", Now));
    }

    [Fact]
    public void unchanged_claims_record_nothing()
    {
        var user = User.Create(new UserRegistered("alice", "a@example.com", "Alice", null, Now));
        UserDecider.Decide(new SignIn("alice", "a@example.com", "Alice", null), user, Now.AddDays(1)).ShouldBeEmpty();
    }

    [Fact]
    public void changed_claims_are_recorded()
    {
        var user = User.Create(new UserRegistered("alice", "a@example.com", "Alice", null, Now));
        var events = UserDecider.Decide(new SignIn("alice", "alice@example.com", "Alice", null), user, Now.AddDays(1));
        events.ShouldHaveSingleItem().ShouldBeOfType<UserProfileChanged>().Email.ShouldBe("alice@example.com");
    }

    [Fact]
    public void stream_ids_are_stable_per_subject_and_distinct_per_purpose()
    {
        UserId.StreamFor("alice").ShouldBe(UserId.StreamFor("alice"));
        UserId.StreamFor("alice").ShouldNotBe(UserId.StreamFor("bob"));
        UserId.StreamFor("alice").ShouldNotBe(UserId.SettingsStreamFor("alice"));
        UserId.StreamFor("alice").Version.ShouldBe(8);
    }
}
