using Pantheon.Domain.Users;

namespace Pantheon.Domain.Tests.Users;

public class UserIdTests
{
    private static readonly Guid Project = Guid.Parse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");

    [Fact]
    public void a_subject_made_of_a_project_id_and_another_user_does_not_reach_that_users_project_conversation()
    {
        var crafted = $"{Project:D}:bob";
        UserId.ConversationStreamFor(crafted, null).ShouldNotBe(UserId.ConversationStreamFor("bob", Project));
        UserId.ConversationStreamFor(crafted, Project).ShouldNotBe(UserId.ConversationStreamFor("bob", Project));
    }

    [Fact]
    public void no_two_purposes_subjects_and_projects_meet()
    {
        string[] subjects =
            ["bob", "user", "settings", "conversation", $"{Project:D}:bob", $"conversation:{Project:D}:bob", ":bob", "bob:", "b"];
        Guid?[] projects = [null, Project, Guid.Empty];
        var ids = new List<Guid>();
        foreach (var subject in subjects)
        {
            ids.Add(UserId.StreamFor(subject));
            ids.Add(UserId.SettingsStreamFor(subject));
            ids.AddRange(projects.Select(p => UserId.ConversationStreamFor(subject, p)));
        }
        ids.Distinct().Count().ShouldBe(ids.Count);
    }

    [Fact]
    public void profile_settings_and_project_conversation_ids_are_those_streams_already_have()
    {
        UserId.StreamFor("alice").ShouldBe(UserId.Derive("pantheon:user:alice"));
        UserId.SettingsStreamFor("alice").ShouldBe(UserId.Derive("pantheon:settings:alice"));
        UserId.ConversationStreamFor("alice", Project).ShouldBe(UserId.Derive($"pantheon:conversation:{Project:D}:alice"));
        UserId.ConversationStreamFor("alice", null).ShouldBe(UserId.Derive("pantheon:general-conversation:alice"));
    }

    [Fact]
    public void ids_are_version_8_name_based_guids()
    {
        var id = UserId.StreamFor("alice");
        id.Version.ShouldBe(8);
        (id.Variant & 0b1100).ShouldBe(0b1000);
    }
}
