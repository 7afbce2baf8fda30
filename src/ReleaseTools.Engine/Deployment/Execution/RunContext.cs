using System.Collections.Generic;
using System.Linq;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Store;

namespace ReleaseTools.Engine.Deployment.Execution
{
    /// <summary>Everything one prepared run needs to execute: its record, its targets in batches, its client and settings.</summary>
    internal sealed class RunContext
    {
        public RunContext(string deploymentId, DeploymentOperation operation, IReadOnlyList<IReadOnlyList<TargetWork>> batches,
            RunSettings settings, IFloydClient client, EventPublisher events, RunRecorder recorder, ReleaseHistoryResolver history)
        {
            DeploymentId = deploymentId;
            Operation = operation;
            Batches = batches;
            Settings = settings;
            Client = client;
            Events = events;
            Recorder = recorder;
            History = history;
        }

        public string DeploymentId { get; }
        public DeploymentOperation Operation { get; }
        public IReadOnlyList<IReadOnlyList<TargetWork>> Batches { get; }
        public RunSettings Settings { get; }
        public IFloydClient Client { get; }
        public EventPublisher Events { get; }
        public RunRecorder Recorder { get; }
        public ReleaseHistoryResolver History { get; }
        public IEnumerable<TargetWork> AllTargets => Batches.SelectMany(b => b);
        public int TotalTargets => Batches.Sum(b => b.Count);
    }
}
