namespace ReleaseTools.Benchmarks.Scenarios.StoreScale;

/// <summary>
/// The registry the store benchmark builds: instances spread evenly over services, each service's instances split
/// between two environments, every instance with the same number of releases in its history.
/// </summary>
public sealed record StoreShape(int Instances, int HistoryRows, int Services, int TargetsPerDeployment)
{
    public int ReleasesPerInstance => Math.Max(1, HistoryRows / Instances);

    /// <summary>The release every instance runs once the store is seeded.</summary>
    public string CurrentVersion => Version(ReleasesPerInstance - 1);

    public int InstancesPerService => Instances / Services;

    public string Service(int instance) => $"svc{instance % Services:D3}";

    public string Environment(int instance) => instance / Services % 2 == 0 ? "prod" : "staging";

    public string Id(int instance) => $"inst-{instance:D6}";

    public static string Version(int release) => $"1.{release}.0";

    /// <summary>The instances of one service, in registry order.</summary>
    public IEnumerable<int> InstancesOf(int service)
    {
        for (var i = service; i < Instances; i += Services)
        {
            yield return i;
        }
    }
}
