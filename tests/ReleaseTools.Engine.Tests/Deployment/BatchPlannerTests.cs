using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Planning;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public class BatchPlannerTests
{
    private static readonly string[] Ids = { "i1", "i2", "i3", "i4", "i5", "i6", "i7" };

    [Fact]
    public void A_batch_size_splits_in_order_with_a_short_last_batch()
    {
        var batches = BatchPlanner.Split(Ids, new BatchLayout { BatchSize = 3 });

        Assert.Equal(new[] { new[] { "i1", "i2", "i3" }, new[] { "i4", "i5", "i6" }, new[] { "i7" } }, batches.Select(b => b.ToArray()));
    }

    [Fact]
    public void Without_a_layout_everything_is_one_batch_and_repeated_ids_count_once()
    {
        var batches = BatchPlanner.Split(new[] { "a", "b", "a", " b ", "c" }, new BatchLayout());

        Assert.Single(batches);
        Assert.Equal(new[] { "a", "b", "c" }, batches[0]);
    }

    [Fact]
    public void Explicit_batches_are_kept_as_given_and_must_match_the_instance_list()
    {
        var layout = new BatchLayout { ExplicitBatches = new[] { new[] { "i2" }, new[] { "i1", "i3" } } };

        var batches = BatchPlanner.Split(new[] { "i1", "i2", "i3" }, layout);
        var fromBatchesOnly = BatchPlanner.Split(Array.Empty<string>(), layout);
        var mismatch = Assert.Throws<DeploymentException>(() => BatchPlanner.Split(new[] { "i1", "i2", "i4" }, layout));

        Assert.Equal(new[] { new[] { "i2" }, new[] { "i1", "i3" } }, batches.Select(b => b.ToArray()));
        Assert.Equal(batches.Select(b => b.ToArray()), fromBatchesOnly.Select(b => b.ToArray()));
        Assert.Contains("i4", mismatch.Message);
        Assert.Contains("i3", mismatch.Message);
    }

    [Fact]
    public void An_instance_in_two_explicit_batches_is_refused()
    {
        var layout = new BatchLayout { ExplicitBatches = new[] { new[] { "i1" }, new[] { "i1", "i2" } } };

        var error = Assert.Throws<DeploymentException>(() => BatchPlanner.Split(Array.Empty<string>(), layout));

        Assert.Equal(EngineErrorIds.InvalidParameter, error.ErrorId);
        Assert.Contains("i1", error.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void A_batch_size_below_one_is_refused(int size)
    {
        var error = Assert.Throws<DeploymentException>(() => BatchPlanner.Split(Ids, new BatchLayout { BatchSize = size }));

        Assert.Equal(DeploymentErrorKind.InvalidArgument, error.Kind);
    }
}
