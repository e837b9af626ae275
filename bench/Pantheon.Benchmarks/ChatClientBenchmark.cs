using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.AI;
using Pantheon.Domain.Chat;
using Pantheon.Handlers.Chat;
using Pantheon.Handlers.Settings;
using Pantheon.TestSupport;

namespace Pantheon.Benchmarks;

/// <summary>
/// The provider client alone, in process: time to the first text of a streamed reply through <see cref="ChatClients"/>
/// (the client a chat turn uses) against a raw <see cref="HttpClient"/> request to the same fake provider.
/// </summary>
public static class ChatClientBenchmark
{
    public static async Task RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0]) : 500;
        await using var fake = await FakeProvider.StartAsync();
        fake.Behavior = new FakeBehavior { Reply = "Pantheon measures what it adds to every token it relays" };
        var baseUrl = new Uri(fake.BaseUrl, "api/v1").ToString();
        var clients = new ChatClients(new ChatDefaults { BaseUrls = new() { ["openrouter"] = baseUrl } }, new DestinationPolicy([]));
        using var http = new HttpClient();
        var body = "{\"model\":\"bench/model\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";

        async Task<double> ThroughClient()
        {
            var watch = Stopwatch.StartNew();
            var client = clients.ForProvider("openrouter", "bench/model", "sk-bench");
            await foreach (var update in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "hello")], new ChatOptions()))
                if (update.Text is { Length: > 0 }) return watch.Elapsed.TotalMilliseconds;
            throw new InvalidOperationException("no text");
        }
        async Task<double> Raw()
        {
            var watch = Stopwatch.StartNew();
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/chat/completions") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new("Bearer", "sk-bench");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            while (await reader.ReadLineAsync() is { } line)
                if (line.Contains("\"content\":\"P", StringComparison.Ordinal)) return watch.Elapsed.TotalMilliseconds;
            throw new InvalidOperationException("no text");
        }

        for (var i = 0; i < 50; i++) { await ThroughClient(); await Raw(); }
        var (a, b) = (new List<double>(), new List<double>());
        for (var i = 0; i < requests; i++) { a.Add(await ThroughClient()); b.Add(await Raw()); }
        double Median(List<double> xs) => xs.Order().ElementAt(xs.Count / 2);
        Console.WriteLine($"{requests} calls: ChatClients median {Median(a):F3} ms | raw HttpClient median {Median(b):F3} ms");
    }
}
