using Npgsql;
using Pantheon.Handlers.Infrastructure;

namespace Pantheon.Domain.Tests.Infrastructure;

public class DatabaseRolesTests
{
    [Theory]
    [InlineData("Host=db;Username=app", DatabaseRoles.MaxAutoPrepare)]
    [InlineData("Host=db;Username=app;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;Username=app;maxautoprepare=7", 7)]
    public void statements_are_prepared_unless_the_connection_string_says_how_many(string given, int prepared) =>
        new NpgsqlConnectionStringBuilder(DatabaseRoles.Prepared(given)).MaxAutoPrepare.ShouldBe(prepared);

    [Fact]
    public void the_system_path_keeps_the_prepared_statements_and_the_password() =>
        new NpgsqlConnectionStringBuilder(DatabaseRoles.System(DatabaseRoles.Prepared("Host=db;Username=app;Password=secret")))
            .ShouldSatisfyAllConditions(
                b => b.MaxAutoPrepare.ShouldBe(DatabaseRoles.MaxAutoPrepare),
                b => b.Password.ShouldBe("secret"),
                b => b.Options.ShouldBe($"-c {DatabaseActor.SystemSetting}=on"));
}
