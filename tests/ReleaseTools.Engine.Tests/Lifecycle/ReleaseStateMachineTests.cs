using ReleaseTools.Engine.Lifecycle;
using Xunit;

namespace ReleaseTools.Engine.Tests.Lifecycle;

public sealed class ReleaseStateMachineTests
{
    [Fact]
    public void The_states_keep_their_numeric_codes()
    {
        Assert.Equal(new[] { 0, 5, 6, 11, 21, 22, 31, 32, 40, 90 }, Enum.GetValues<ReleaseState>().Select(s => (int)s));
        Assert.Equal(new[] { "PendingReview", "Approved", "Rejected", "Tagged", "PreDeploying", "PreDeployed", "ProdDeploying", "ProdDeployed", "Accepted", "Cancelled" },
            Enum.GetNames<ReleaseState>());
    }

    public static TheoryData<ReleaseEvent, ReleaseState, ReleaseState> Allowed => new()
    {
        { ReleaseEvent.Approve, ReleaseState.PendingReview, ReleaseState.Approved },
        { ReleaseEvent.Reject, ReleaseState.PendingReview, ReleaseState.Rejected },
        { ReleaseEvent.Cancel, ReleaseState.PendingReview, ReleaseState.Cancelled },
        { ReleaseEvent.Cancel, ReleaseState.Approved, ReleaseState.Cancelled },
        { ReleaseEvent.Cancel, ReleaseState.Tagged, ReleaseState.Cancelled },
        { ReleaseEvent.Cancel, ReleaseState.PreDeployed, ReleaseState.Cancelled },
        { ReleaseEvent.ConfirmTag, ReleaseState.Approved, ReleaseState.Tagged },
        { ReleaseEvent.StartPreDeploy, ReleaseState.Tagged, ReleaseState.PreDeploying },
        { ReleaseEvent.PreDeployCompleted, ReleaseState.PreDeploying, ReleaseState.PreDeployed },
        { ReleaseEvent.PreDeployFailed, ReleaseState.PreDeploying, ReleaseState.Tagged },
        { ReleaseEvent.StartProdDeploy, ReleaseState.PreDeployed, ReleaseState.ProdDeploying },
        { ReleaseEvent.ProdDeployCompleted, ReleaseState.ProdDeploying, ReleaseState.ProdDeployed },
        { ReleaseEvent.ProdDeployFailed, ReleaseState.ProdDeploying, ReleaseState.PreDeployed },
        { ReleaseEvent.FinalAccept, ReleaseState.ProdDeployed, ReleaseState.Accepted },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void Each_transition_of_the_table_is_allowed(ReleaseEvent releaseEvent, ReleaseState from, ReleaseState to)
    {
        Assert.Equal(to, ReleaseStateMachine.Next(from, releaseEvent));
        Assert.Contains(releaseEvent, ReleaseStateMachine.AllowedEvents(from));
    }

    [Fact]
    public void Every_other_pair_of_state_and_event_is_refused_with_the_events_allowed_now()
    {
        var allowed = Allowed.Select(row => ((ReleaseEvent)row[0], (ReleaseState)row[1])).ToHashSet();
        var refused = 0;
        foreach (var state in Enum.GetValues<ReleaseState>())
        {
            foreach (var releaseEvent in Enum.GetValues<ReleaseEvent>().Where(e => !allowed.Contains((e, state))))
            {
                Assert.Null(ReleaseStateMachine.Next(state, releaseEvent));
                var error = Assert.Throws<LifecycleException>(() => ReleaseStateMachine.Require("r-1", state, releaseEvent));
                Assert.Equal(LifecycleErrorIds.ReleaseTransitionInvalid, error.ErrorId);
                Assert.Equal("r-1", error.Target);
                Assert.Contains(ReleaseStateMachine.Describe(ReleaseStateMachine.AllowedEvents(state)), error.Message);
                refused++;
            }
        }

        Assert.Equal(10 * 11 - 14, refused);
    }

    [Fact]
    public void Cancel_is_not_allowed_while_a_stage_deploys_and_final_states_allow_nothing()
    {
        Assert.DoesNotContain(ReleaseEvent.Cancel, ReleaseStateMachine.AllowedEvents(ReleaseState.PreDeploying));
        Assert.DoesNotContain(ReleaseEvent.Cancel, ReleaseStateMachine.AllowedEvents(ReleaseState.ProdDeploying));
        Assert.All(new[] { ReleaseState.Rejected, ReleaseState.Accepted, ReleaseState.Cancelled }, s => Assert.True(ReleaseStateMachine.IsFinal(s)));
        Assert.Contains("none (the release is final)", Assert.Throws<LifecycleException>(() => ReleaseStateMachine.Require("r-1", ReleaseState.Accepted, ReleaseEvent.Cancel)).Message);
    }

    [Fact]
    public void Events_have_the_lifecycle_names()
    {
        Assert.Equal(
            new[] { "approve", "reject", "cancel", "confirm_tag", "start_pre_deploy", "pre_deploy_completed", "pre_deploy_failed", "start_prod_deploy", "prod_deploy_completed", "prod_deploy_failed", "final_accept" },
            Enum.GetValues<ReleaseEvent>().Select(ReleaseStateMachine.NameOf));
    }
}
