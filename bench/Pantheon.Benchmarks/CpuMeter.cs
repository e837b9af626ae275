namespace Pantheon.Benchmarks;

/// <summary>
/// CPU time spent on the machine between two readings, split four ways: the backend's process, this process (the
/// benchmark's clients and its direct path), PostgreSQL's processes, and everything else (the Docker engine, containerd,
/// its shims and runc, and the containers themselves). Read from <c>/proc</c>: on a machine whose two cores
/// the engine, the database and the backend share, it shows which of them a path adds work to, which wall-clock ratios
/// alone cannot.
/// </summary>
public readonly record struct CpuReading(double Machine, double Backend, double Self, double Postgres)
{
    private static readonly double TicksPerSecond = 100; // USER_HZ: 100 on every Linux this runs on

    public static CpuReading Now(int backendPid)
    {
        // The first line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...; busy is all but idle and iowait.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(long.Parse).ToArray();
        var busy = fields.Sum() - fields[3] - fields[4];
        return new CpuReading(busy / TicksPerSecond, ProcessSeconds(backendPid.ToString()), ProcessSeconds("self"), PostgresSeconds());
    }

    public static CpuUse operator -(CpuReading after, CpuReading before)
    {
        var (backend, self, postgres) = (after.Backend - before.Backend, after.Self - before.Self, after.Postgres - before.Postgres);
        return new(backend, self, postgres, after.Machine - before.Machine - backend - self - postgres);
    }

    private static double PostgresSeconds()
    {
        double total = 0;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory);
            if (!char.IsAsciiDigit(name[0])) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(directory, "comm")).Trim() == "postgres") total += ProcessSeconds(name);
            }
            catch (IOException)
            {
                // The process ended between the listing and the read: its time is gone with it (a connection's backend).
            }
        }
        return total;
    }

    /// <summary>utime + stime, and those of its children it has waited for (fields 14 to 17 of <c>/proc/PID/stat</c>).</summary>
    private static double ProcessSeconds(string pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return fields[11..15].Sum(long.Parse) / TicksPerSecond;
    }
}

/// <summary>CPU seconds over a span of time: the backend, this process, PostgreSQL, and the rest of the machine.</summary>
public readonly record struct CpuUse(double Backend, double Self, double Postgres, double Rest)
{
    public static CpuUse operator +(CpuUse a, CpuUse b) =>
        new(a.Backend + b.Backend, a.Self + b.Self, a.Postgres + b.Postgres, a.Rest + b.Rest);

    public override string ToString() =>
        $"backend {Backend:F2} s, benchmark {Self:F2} s, PostgreSQL {Postgres:F2} s, the rest (engine, containers) {Rest:F2} s";
}
