using JasperFx.CodeGeneration;
using JasperFx.CodeGeneration.Model;
using Microsoft.Extensions.DependencyInjection;
using Pantheon.IntegrationTests.Infrastructure;

namespace Pantheon.IntegrationTests;

[Collection(AppCollection.Name)]
public class CodegenTests(AppFixture app)
{
    /// <summary>Fails when src/Pantheon.Web/Internal/Generated is stale; fix with `dotnet run --project src/Pantheon.Web -- codegen write`.</summary>
    [Fact]
    public void committed_generated_code_matches_what_the_handlers_generate_now()
    {
        var services = app.Host.Services;
        var collections = services.GetServices<ICodeFileCollection>().ToArray();
        var builder = new DynamicCodeBuilder(services, collections) { ServiceVariableSource = services.GetService<IServiceVariableSource>() };
        var generated = Normalize(builder.GenerateAllCode());

        var root = Path.Combine(RepositoryRoot(), "src", "Pantheon.Web", "Internal", "Generated");
        var expected = collections
            .SelectMany(c => c.BuildFiles().Select(f => Path.Combine(root, c.ChildNamespace, f.FileName.Replace(" ", "_") + ".cs")))
            .ToHashSet();
        var committed = Directory.GetFiles(root, "*.cs", SearchOption.AllDirectories).ToHashSet();

        expected.Except(committed).ShouldBeEmpty("generated files are missing: run codegen write");
        committed.Except(expected).ShouldBeEmpty("generated files are orphaned: run codegen write");
        foreach (var file in committed)
            generated.Contains(Normalize(File.ReadAllText(file))).ShouldBeTrue($"{file} is stale: run codegen write");
    }

    private static string Normalize(string code) => code.Replace("\r\n", "\n");

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Pantheon.sln"))) directory = directory.Parent;
        return directory?.FullName ?? throw new InvalidOperationException("Pantheon.sln not found above " + AppContext.BaseDirectory);
    }
}
