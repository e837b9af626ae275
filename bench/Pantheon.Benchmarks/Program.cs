using Pantheon.Benchmarks;

// dotnet run -c Release --project bench/Pantheon.Benchmarks -- provisioning [count] [parallel] [events|poll] [warm-up]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- lifecycle [rounds]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- chat [requests] [concurrency] [warm-up]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- live [events] [clients] [export-events]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- viewer [runs]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- tools [calls]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- agent [turns]
// dotnet run -c Release --project bench/Pantheon.Benchmarks -- chat-client [calls]
return args.FirstOrDefault() switch
{
    "provisioning" => await Run(ProvisioningBenchmark.RunAsync, args[1..]),
    "lifecycle" => await Run(LifecycleBenchmark.RunAsync, args[1..]),
    "chat" => await Run(ChatBenchmark.RunAsync, args[1..]),
    "live" => await Run(LiveBenchmark.RunAsync, args[1..]),
    "viewer" => await Run(ViewerBenchmark.RunAsync, args[1..]),
    "tools" => await Run(ToolsBenchmark.RunAsync, args[1..]),
    "agent" => await Run(AgentBenchmark.RunAsync, args[1..]),
    "chat-client" => await Run(ChatClientBenchmark.RunAsync, args[1..]),
    _ => Usage(),
};

static async Task<int> Run(Func<string[], Task> benchmark, string[] args)
{
    await benchmark(args);
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: Pantheon.Benchmarks provisioning [count=20] [parallel=8] [events|poll] [warm-up=40] | lifecycle [rounds=20] | chat [requests=200] [concurrency=16] [warm-up=6000] | live [events=1000] [clients=50] [export=100000] | viewer [runs=200] | tools [calls=100] | agent [turns=50] | chat-client [calls=500]");
    return 2;
}
