using System.Globalization;

namespace ReleaseTools.Benchmarks.Harness;

/// <summary>CPU seconds of running processes read from /proc, so a figure can start after a process has started up.</summary>
public static class ProcessCpu
{
    // USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux the .NET runtime supports.
    private const double TicksPerSecond = 100;

    /// <summary>
    /// User + system seconds of <paramref name="pid"/>; with <paramref name="withReapedChildren"/> also those of the
    /// children it has waited for (a forking server such as sshd does its work in children it reaps).
    /// </summary>
    public static double Seconds(int pid, bool withReapedChildren = false)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name may contain spaces and parentheses; the fields after the last ')' start with the state (field 3).
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        double Field(int number) => double.Parse(fields[number - 3], CultureInfo.InvariantCulture);
        var ticks = Field(14) + Field(15);
        if (withReapedChildren)
        {
            ticks += Field(16) + Field(17);
        }

        return ticks / TicksPerSecond;
    }

    public static double Sum(IEnumerable<int> pids, bool withReapedChildren = false) => pids.Sum(pid => Seconds(pid, withReapedChildren));

    /// <summary>Peak resident set (VmHWM) of a running process, in MiB.</summary>
    public static double PeakResidentMiB(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
            {
                return double.Parse(line["VmHWM:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
            }
        }

        return double.NaN;
    }
}
