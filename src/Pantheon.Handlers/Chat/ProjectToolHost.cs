using System.Text;
using Microsoft.Extensions.AI;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;
using Pantheon.Handlers.Projects;
using Pantheon.Handlers.Settings;

namespace Pantheon.Handlers.Chat;

/// <summary>What a tool call gave back: its text, its images (a screenshot's PNG), and whether it is an error.</summary>
public sealed record ToolOutcome(string Text, IReadOnlyList<ToolImage> Images, bool IsError);

public sealed record ToolImage(byte[] Data, string MediaType);

/// <summary>A project's tools for one agent turn: their declarations for the model, and calls against them.</summary>
public interface IToolSession : IAsyncDisposable
{
    IReadOnlyList<AIFunctionDeclaration> Tools { get; }

    Task<ToolOutcome> CallAsync(string tool, IReadOnlyDictionary<string, object?> arguments, CancellationToken ct);
}

/// <summary>Where an agent turn's tools come from: the project's tools API, reached with the project's secret.</summary>
public interface IToolHost
{
    /// <summary>Connects and lists the tools; throws <see cref="ToolsUnavailableException"/> when the tools API does not answer.</summary>
    Task<IToolSession> OpenAsync(Guid projectId, CancellationToken ct);
}

public sealed class ToolsUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The tools API over MCP (Streamable HTTP, <c>Chat:ToolsUrl</c>) as the official C# SDK's client, with the project's MCP
/// secret as the bearer: the same server, the same authentication and the same recording (<c>ToolCalled</c>/<c>ToolReturned</c>
/// on the project's stream) as a client in the VM gets.
/// </summary>
public sealed class McpToolHost(ChatDefaults settings, SharedFolders folders) : IToolHost
{
    public async Task<IToolSession> OpenAsync(Guid projectId, CancellationToken ct)
    {
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(settings.ToolsUrl),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = new Dictionary<string, string> { ["Authorization"] = $"Bearer {folders.ProjectSecret(projectId)}" },
        });
        McpClient? client = null;
        try
        {
            client = await McpClient.CreateAsync(transport, cancellationToken: ct);
            var tools = await client.ListToolsAsync(cancellationToken: ct);
            return new Session(client, [.. tools]);
        }
        catch (Exception e) when (!ct.IsCancellationRequested)
        {
            if (client is not null) await client.DisposeAsync();
            throw new ToolsUnavailableException($"The tools API ({settings.ToolsUrl}, Chat:ToolsUrl) did not list the project's tools.", e);
        }
    }

    private sealed class Session(McpClient client, IReadOnlyList<McpClientTool> tools) : IToolSession
    {
        public IReadOnlyList<AIFunctionDeclaration> Tools { get; } = tools;

        public async Task<ToolOutcome> CallAsync(string tool, IReadOnlyDictionary<string, object?> arguments, CancellationToken ct)
        {
            CallToolResult result;
            try
            {
                result = await client.CallToolAsync(tool, arguments, cancellationToken: ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // The model is told the call failed and why (an unknown tool, the server's refusal), and carries on.
                return new ToolOutcome($"The call failed: {e.Message}", [], IsError: true);
            }
            var text = new StringBuilder();
            var images = new List<ToolImage>();
            foreach (var block in result.Content)
            {
                switch (block)
                {
                    case TextContentBlock t:
                        text.Append(text.Length > 0 ? "\n" : "").Append(t.Text);
                        break;
                    case ImageContentBlock i:
                        images.Add(new ToolImage(i.DecodedData.ToArray(), i.MimeType));
                        break;
                }
            }
            return new ToolOutcome(text.ToString(), images, result.IsError == true);
        }

        public ValueTask DisposeAsync() => client.DisposeAsync();
    }
}
