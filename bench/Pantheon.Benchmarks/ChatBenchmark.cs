using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Pantheon.TestSupport;
using Pantheon.Web.Auth;

namespace Pantheon.Benchmarks;

/// <summary>
/// What the backend adds to a chat: time to first token and to the full reply of a streamed <c>POST /api/chat</c>,
/// against the same fake provider called directly, both over real loopback HTTP. The backend runs as its own
/// published Release process; requests alternate between the two paths in batches, so noise falls on both.
/// Each request is from a fresh user, so every request does the same work (no growing history). A warm-up of both paths
/// at both degrees comes first (the third argument, 6,000 requests by default, some 30 s): the backend's JIT goes on
/// recompiling hot methods for about 25 s of this load after start (counted with <c>DOTNET_JitStdOutFile</c>: some 800
/// methods a second still at the end of the former 1,000-request warm-up, about 30 a second after 6,000), so a short warm-up
/// measures start-up compilation rather than the path.
/// Beside each degree's figures, the CPU time per request that each path cost the backend, this process (the clients
/// and the fake provider) and PostgreSQL, read from <c>/proc</c> (<see cref="CpuReading"/>).
/// </summary>
public static class ChatBenchmark
{
    private const string SigningKey = "benchmark-signing-key-0123456789abcdef";

    public static async Task RunAsync(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0]) : 200;
        var concurrency = args.Length > 1 ? int.Parse(args[1]) : 16;
        var warmUp = args.Length > 2 ? int.Parse(args[2]) : 6000;
        await using var fake = await FakeProvider.StartAsync();
        fake.Behavior = new FakeBehavior { Reply = "Pantheon measures what it adds to every token it relays" };
        await using var backend = await Backend.StartAsync(new Dictionary<string, string>
        {
            ["Auth__Issuer"] = "pantheon-bench", ["Auth__SigningKey"] = SigningKey, ["OPENROUTER_API_KEY"] = "sk-bench",
            ["Chat__BaseUrls__openrouter"] = new Uri(fake.BaseUrl, "api/v1").ToString(),
        });

        var auth = new AuthSettings { Issuer = "pantheon-bench", Audience = "pantheon", SigningKey = SigningKey };
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { Timeout = TimeSpan.FromMinutes(2) };
        var direct = new Uri(fake.BaseUrl, "api/v1/chat/completions");
        var body = JsonSerializer.Serialize(new { model = "bench/model", stream = true, stream_options = new { include_usage = true },
            messages = new[] { new { role = "user", content = "hello" } } });

        // Every measured request is from a user of its own who has chatted once before (in the warm-up): a returning user,
        // whose conversation holds one earlier turn. Each measured request thus does the same work, and none is a first visit.
        var returning = new System.Collections.Concurrent.ConcurrentQueue<string>();
        async Task<(double First, double Full)> FirstVisit()
        {
            var token = DevTokens.Mint(auth, $"bench-{Guid.NewGuid():N}");
            var result = await Chat(token);
            returning.Enqueue(token);
            return result;
        }
        async Task<(double First, double Full)> ThroughPantheon() =>
            await Chat(returning.TryDequeue(out var token) ? token : throw new InvalidOperationException("no returning user left"));
        async Task<(double First, double Full)> Chat(string token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(backend.Url, "/api/chat"))
            {
                Content = new StringContent("{\"message\":\"hello\",\"model\":\"openrouter/bench/model\"}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            return await Measure(http, request, line => line == "event: delta", line => line == "event: done");
        }

        async Task<(double First, double Full)> Direct()
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, direct) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sk-bench");
            return await Measure(http, request, line => line.StartsWith("data: {", StringComparison.Ordinal) && HasContent(line), line => line == "data: [DONE]");
        }

        // Warm-up, unmeasured: JIT, pools, caches; a fifth one at a time, the rest at the measured degree.
        for (var i = 0; i < warmUp / 5; i++) { await FirstVisit(); await ThroughPantheon(); await Direct(); }
        for (var done = 0; done < warmUp - warmUp / 5; done += 4 * concurrency)
        {
            await Parallel(4 * concurrency, concurrency, FirstVisit);
            await Parallel(4 * concurrency, concurrency, ThroughPantheon);
            await Parallel(4 * concurrency, concurrency, Direct);
        }
        returning.Clear();

        foreach (var degree in new[] { 1, concurrency })
        {
            var firsts = new List<(double, double)>();
            var pantheon = new List<(double, double)>();
            var directs = new List<(double, double)>();
            CpuUse pantheonCpu = default, directCpu = default;
            for (var done = 0; done < requests; done += 4 * degree)
            {
                var batch = Math.Min(4 * degree, requests - done);
                firsts.AddRange(await Parallel(batch, degree, FirstVisit)); // makes this batch's returning users
                var before = CpuReading.Now(backend.Pid);
                pantheon.AddRange(await Parallel(batch, degree, ThroughPantheon));
                var middle = CpuReading.Now(backend.Pid);
                directs.AddRange(await Parallel(batch, degree, Direct));
                (pantheonCpu, directCpu) = (pantheonCpu + (middle - before), directCpu + (CpuReading.Now(backend.Pid) - middle));
            }
            Report(requests, degree, "first token", pantheon.Select(p => p.Item1).ToList(), directs.Select(p => p.Item1).ToList());
            Report(requests, degree, "full reply ", pantheon.Select(p => p.Item2).ToList(), directs.Select(p => p.Item2).ToList());
            Report(requests, degree, "first token, a user's first chat", firsts.Select(p => p.Item1).ToList(), directs.Select(p => p.Item1).ToList());
            Console.WriteLine($"{requests} requests, {degree,2} at once, CPU per request: Pantheon {PerRequest(pantheonCpu, requests)} | " +
                              $"direct {PerRequest(directCpu, requests)}");
        }
    }

    /// <summary>
    /// A batch's CPU in milliseconds per request. Work a turn leaves behind (Marten's daemon projecting its events) falls
    /// into the next batch: the first visits' into Pantheon's, Pantheon's into the direct path's. At 1 at once, where a batch
    /// is 4 requests of a few milliseconds, that leftover work is most of what is read; the 16-at-once line is the one to read.
    /// </summary>
    private static string PerRequest(CpuUse cpu, int requests) =>
        $"backend {cpu.Backend * 1000 / requests:F2} ms, benchmark {cpu.Self * 1000 / requests:F2} ms, " +
        $"PostgreSQL {cpu.Postgres * 1000 / requests:F2} ms, rest {cpu.Rest * 1000 / requests:F2} ms";

    private static bool HasContent(string line)
    {
        using var chunk = JsonDocument.Parse(line.AsMemory(6));
        return chunk.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } choices && choices.GetArrayLength() > 0
            && choices[0].GetProperty("delta").TryGetProperty("content", out var content) && content.GetString() is { Length: > 0 };
    }

    private static async Task<(double First, double Full)> Measure(HttpClient http, HttpRequestMessage request, Func<string, bool> isFirst, Func<string, bool> isLast)
    {
        var watch = Stopwatch.StartNew();
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"{request.RequestUri} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double? first = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (first is null && isFirst(line)) first = watch.Elapsed.TotalMilliseconds;
            if (isLast(line)) return (first ?? double.NaN, watch.Elapsed.TotalMilliseconds);
        }
        throw new InvalidOperationException($"{request.RequestUri}: the stream ended without its last event.");
    }

    private static async Task<List<(double, double)>> Parallel(int count, int degree, Func<Task<(double, double)>> one)
    {
        var results = new List<(double, double)>(count);
        var next = 0;
        var workers = Enumerable.Range(0, degree).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= count)
            {
                var result = await one();
                lock (results) results.Add(result);
            }
        });
        await Task.WhenAll(workers);
        return results;
    }

    private static void Report(int requests, int degree, string what, List<double> pantheon, List<double> direct)
    {
        double Percentile(List<double> xs, double p) => xs.Order().ElementAt((int)Math.Ceiling(p * xs.Count) - 1);
        Console.WriteLine($"{requests} requests, {degree,2} at once, {what}: Pantheon median {Percentile(pantheon, 0.5):F2} ms p99 {Percentile(pantheon, 0.99):F2} ms | " +
                          $"direct median {Percentile(direct, 0.5):F2} ms p99 {Percentile(direct, 0.99):F2} ms | " +
                          $"added at the median {Percentile(pantheon, 0.5) - Percentile(direct, 0.5):F2} ms");
    }
}
