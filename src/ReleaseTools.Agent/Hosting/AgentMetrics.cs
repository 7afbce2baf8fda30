using Prometheus;

namespace ReleaseTools.Agent.Hosting;

/// <summary>The agent's Prometheus metrics, in a registry of its own so several agents can share one process.</summary>
public sealed class AgentMetrics
{
    public AgentMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("floyd_requests_total", "Floyd requests answered, by endpoint and HTTP status.", "endpoint", "status");
        BytesReceived = factory.CreateCounter("floyd_received_bytes_total", "Request body bytes received, by endpoint.", "endpoint");
        Rejections = factory.CreateCounter("floyd_rejections_total", "Requests refused, by reason (the error code of the JSON error body).", "reason");
        PackagesStored = factory.CreateCounter("floyd_packages_stored_total", "Package pushes that stored new bytes.");
        Activations = factory.CreateCounter("floyd_activations_total", "Releases activated.");
    }

    public CollectorRegistry Registry { get; }
    public Counter Requests { get; }
    public Counter BytesReceived { get; }
    public Counter Rejections { get; }
    public Counter PackagesStored { get; }
    public Counter Activations { get; }
}
