using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Execution;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public class FailurePolicyEvaluatorTests
{
    [Fact]
    public void The_default_policy_tolerates_no_failure()
    {
        var policy = new FailurePolicy();

        Assert.False(FailurePolicyEvaluator.IsBreached(policy, failed: 0, unreachable: 0, totalTargets: 10));
        Assert.True(FailurePolicyEvaluator.IsBreached(policy, failed: 1, unreachable: 0, totalTargets: 10));
        Assert.True(FailurePolicyEvaluator.IsBreached(policy, failed: 0, unreachable: 1, totalTargets: 10));
    }

    [Fact]
    public void Unreachable_instances_can_be_left_out_of_the_count()
    {
        var policy = new FailurePolicy { CountUnreachable = false };

        Assert.False(FailurePolicyEvaluator.IsBreached(policy, failed: 0, unreachable: 3, totalTargets: 10));
        Assert.True(FailurePolicyEvaluator.IsBreached(policy, failed: 1, unreachable: 3, totalTargets: 10));
    }

    [Fact]
    public void A_count_limit_allows_that_many_failures_over_the_run()
    {
        var policy = new FailurePolicy { MaxFailedInstances = 2 };

        Assert.False(FailurePolicyEvaluator.IsBreached(policy, failed: 1, unreachable: 1, totalTargets: 10));
        Assert.True(FailurePolicyEvaluator.IsBreached(policy, failed: 2, unreachable: 1, totalTargets: 10));
    }

    [Fact]
    public void A_percent_limit_applies_even_when_the_count_is_left_at_zero()
    {
        var policy = new FailurePolicy { MaxFailedPercent = 10 };

        Assert.False(FailurePolicyEvaluator.IsBreached(policy, failed: 2, unreachable: 0, totalTargets: 20));
        Assert.True(FailurePolicyEvaluator.IsBreached(policy, failed: 3, unreachable: 0, totalTargets: 20));
    }

    [Theory]
    [InlineData(-1, null)]
    [InlineData(0, 101.0)]
    [InlineData(0, -5.0)]
    public void Out_of_range_limits_are_refused(int count, double? percent)
    {
        var error = Assert.Throws<DeploymentException>(() =>
            FailurePolicyEvaluator.Validate(new FailurePolicy { MaxFailedInstances = count, MaxFailedPercent = percent }));

        Assert.Equal(EngineErrorIds.InvalidParameter, error.ErrorId);
    }

    [Fact]
    public void Final_status_distinguishes_cancelled_stopped_partial_and_full_success()
    {
        var mixed = new[] { TargetStatus.Succeeded, TargetStatus.Failed, TargetStatus.Unchanged };

        Assert.Equal(DeploymentStatus.Cancelled, FinalStatus.Compute(true, false, mixed));
        Assert.Equal(DeploymentStatus.Failed, FinalStatus.Compute(false, true, mixed));
        Assert.Equal(DeploymentStatus.PartiallySucceeded, FinalStatus.Compute(false, false, mixed));
        Assert.Equal(DeploymentStatus.Succeeded, FinalStatus.Compute(false, false, new[] { TargetStatus.Succeeded, TargetStatus.Unchanged }));
        Assert.Equal(DeploymentStatus.Failed, FinalStatus.Compute(false, false, new[] { TargetStatus.Failed, TargetStatus.Unreachable }));
    }
}
