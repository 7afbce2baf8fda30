using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Deployment.Planning;
using ReleaseTools.Engine.Packages;
using Xunit;

namespace ReleaseTools.Engine.Tests.Deployment;

public class RunParametersTests
{
    [Fact]
    public void Releases_survive_the_round_trip_through_the_record()
    {
        var package = PackageSupply.Ready(new AcquiredPackage { Source = "http://h/p.zip", Md5 = "0123456789abcdef0123456789abcdef", FilePath = "/x", Length = 1 });
        var config = new RenderedConfig { FileName = "app.conf", Content = new byte[] { 1 }, Digest = "cfg" };
        var a = new ReleaseSpec("orders", "prod", "2.0", "fvA", package, config);
        var b = new ReleaseSpec("orders", "test", "2.0", "fvB", package, null);

        var json = RunParameters.For(new RunSettings { ThrottleLimit = 7 }, allowLocalPackage: true, new[] { a, b, a }).ToJson();
        var parsed = RunParameters.TryParse(json)!;

        Assert.True(parsed.AllowLocalPackage);
        Assert.Equal(7, parsed.ThrottleLimit);
        Assert.Equal(2, parsed.Releases.Count);
        Assert.True(parsed.Releases[0].Matches("orders", "prod", "fvA"));
        Assert.Equal("cfg", parsed.Releases[0].ConfigDigest);
        Assert.Equal("app.conf", parsed.Releases[0].ConfigFileName);
        Assert.Equal("http://h/p.zip", parsed.Releases[1].PackageUrl);
        Assert.Null(parsed.Releases[1].ConfigDigest);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("{not json")]
    [InlineData("{\"format\":1,\"releases\":[]}")]
    public void Records_without_usable_release_details_are_not_resumable(string? json)
    {
        Assert.Null(RunParameters.TryParse(json));
    }
}
