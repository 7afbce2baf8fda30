using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Floyd;
using ReleaseTools.Engine.Packages;
using ReleaseTools.Engine.Store;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

/// <summary>Run-level failures: each stops the run before anything is pushed to any agent.</summary>
public class RunValidationIntegrationTests
{
    private static async Task<DeploymentException> FailsBeforeAnyPush(DeploymentWorld world, DeploymentRequest request)
    {
        var error = await Assert.ThrowsAsync<DeploymentException>(() => world.Engine.DeployAsync(request, new EventLog(), CancellationToken.None));
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Count(FloydProtocol.PackagePath)));
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Count(FloydProtocol.ActivatePath)));
        Assert.Empty(await world.Store.FindDeploymentsAsync(new DeploymentQuery(), CancellationToken.None));
        return error;
    }

    [Fact]
    public async Task A_package_url_answering_404_fails_before_anything_is_pushed()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var request = world.Request("1.0.0", world.Settings()) with { PackageUrl = world.Packages.Url("packages/missing.zip") };

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.PackageNotFound, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.ObjectNotFound, error.Kind);
        Assert.Contains("404", error.Message);
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Total));
    }

    [Fact]
    public async Task An_unsupported_scheme_fails_before_any_network_traffic()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var request = world.Request("1.0.0", world.Settings()) with { PackageUrl = "ftp://127.0.0.1/orders-1.0.0.zip" };

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.PackageUrlUnsupportedScheme, error.ErrorId);
        Assert.Equal("ftp://127.0.0.1/orders-1.0.0.zip", error.Target);
        Assert.All(world.Instances, i => Assert.Equal(0, i.Probe.Total));
    }

    [Fact]
    public async Task A_checksum_mismatch_fails_after_the_download_and_before_anything_is_pushed()
    {
        await using var world = await DeploymentWorld.CreateAsync(2);
        var request = world.Request("1.0.0", world.Settings(), checksum: Md5Hex.Of(new byte[] { 42 }));

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.PackageChecksumMismatch, error.ErrorId);
        Assert.Equal(1, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
    }

    [Fact]
    public async Task A_matching_checksum_deploys_and_a_second_run_takes_the_package_from_the_cache()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var md5 = Md5Hex.Of(DeploymentWorld.PackageContent("1.0.0"));
        var log = new EventLog();

        var first = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings(), checksum: md5), new EventLog(), CancellationToken.None);
        var second = await world.Engine.DeployAsync(world.Request("1.0.0", world.Settings() with { Force = true }, checksum: md5.ToUpperInvariant()), log, CancellationToken.None);

        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, first);
        DeploymentWorld.AssertStatus(DeploymentStatus.Succeeded, second);
        Assert.Equal(1, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
        Assert.Contains(log.Of<PackageProgress>(), p => p.FromCache);
    }

    [Fact]
    public async Task An_unusable_private_key_is_a_security_error_before_any_download()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var notAKey = world.Temp.WriteFile("not-a-key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        var request = world.Request("1.0.0", world.Settings() with { PrivateKeyPath = notAKey });

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.PrivateKeyUnusable, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.SecurityError, error.Kind);
        Assert.Equal(notAKey, error.Target);
        Assert.Equal(0, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
    }

    [Fact]
    public async Task Unknown_instances_are_all_named_before_any_download()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var request = world.Request("1.0.0", world.Settings()) with { InstanceIds = new[] { "i01", "ghost-1", "ghost-2" } };

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.InstanceNotFound, error.ErrorId);
        Assert.Contains("ghost-1", error.Message);
        Assert.Contains("ghost-2", error.Message);
        Assert.Equal(0, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
    }

    [Fact]
    public async Task An_unknown_config_placeholder_fails_before_the_download()
    {
        await using var world = await DeploymentWorld.CreateAsync(1);
        var request = world.Request("1.0.0", world.Settings()) with { Config = new ConfigSource { TemplatePath = world.ConfigTemplate } };

        var error = await FailsBeforeAnyPush(world, request);

        Assert.Equal(EngineErrorIds.ConfigPlaceholderUnknown, error.ErrorId);
        Assert.Contains("{{LogLevel}}", error.Message);
        Assert.Equal(0, world.Packages.Gets(DeploymentWorld.PackagePath("1.0.0")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public async Task A_throttle_below_one_is_a_parameter_error(int throttle)
    {
        await using var world = await DeploymentWorld.CreateAsync(1);

        var error = await FailsBeforeAnyPush(world, world.Request("1.0.0", world.Settings(throttle: throttle)));

        Assert.Equal(EngineErrorIds.InvalidParameter, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.InvalidArgument, error.Kind);
    }
}
