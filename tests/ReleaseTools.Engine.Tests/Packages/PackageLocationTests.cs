using ReleaseTools.Engine.Deployment;
using ReleaseTools.Engine.Packages;
using Xunit;

namespace ReleaseTools.Engine.Tests.Packages;

public class PackageLocationTests
{
    [Theory]
    [InlineData("http://127.0.0.1:8080/pkg/app-1.0.zip")]
    [InlineData("https://artifacts.example/app.zip")]
    public void Http_and_https_urls_are_accepted(string url)
    {
        var location = PackageLocation.Parse(url, allowLocal: false);

        Assert.False(location.IsLocal);
        Assert.Equal(url, location.Original);
        Assert.NotNull(location.Url);
    }

    [Theory]
    [InlineData("ftp://files.example/app.zip", "ftp")]
    [InlineData("gopher://old.example/app.zip", "gopher")]
    public void Unsupported_schemes_are_refused_with_a_stable_error_id(string url, string scheme)
    {
        var error = Assert.Throws<DeploymentException>(() => PackageLocation.Parse(url, allowLocal: true));

        Assert.Equal(EngineErrorIds.PackageUrlUnsupportedScheme, error.ErrorId);
        Assert.Equal(DeploymentErrorKind.InvalidArgument, error.Kind);
        Assert.Contains(scheme, error.Message);
        Assert.Equal(url, error.Target);
    }

    [Fact]
    public void A_local_path_needs_explicit_permission()
    {
        var path = Path.Combine(Path.GetTempPath(), "app-1.0.zip");

        var refused = Assert.Throws<DeploymentException>(() => PackageLocation.Parse(path, allowLocal: false));
        var allowed = PackageLocation.Parse(path, allowLocal: true);

        Assert.Equal(EngineErrorIds.PackageLocalPathNotAllowed, refused.ErrorId);
        Assert.True(allowed.IsLocal);
        Assert.Equal(Path.GetFullPath(path), allowed.LocalPath);
    }

    [Fact]
    public void A_file_url_is_a_local_path_and_needs_the_same_permission()
    {
        var path = Path.Combine(Path.GetTempPath(), "app.zip");
        var url = new Uri(path).AbsoluteUri;

        Assert.Throws<DeploymentException>(() => PackageLocation.Parse(url, allowLocal: false));
        Assert.Equal(path, PackageLocation.Parse(url, allowLocal: true).LocalPath);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(null)]
    public void A_missing_url_is_a_parameter_error(string? url)
    {
        var error = Assert.Throws<DeploymentException>(() => PackageLocation.Parse(url, allowLocal: true));

        Assert.Equal(EngineErrorIds.PackageUrlMissing, error.ErrorId);
    }

    [Fact]
    public void Checksums_are_accepted_as_hex_in_any_case_or_base64()
    {
        var hex = Md5Hex.Of(new byte[] { 1, 2, 3 });
        var base64 = Convert.ToBase64String(Convert.FromHexString(hex));

        Assert.Equal(hex, PackageAcquirer.NormalizeChecksum(hex.ToUpperInvariant()));
        Assert.Equal(hex, PackageAcquirer.NormalizeChecksum(base64));
        Assert.Null(PackageAcquirer.NormalizeChecksum(null));
        Assert.Equal(EngineErrorIds.PackageChecksumInvalid,
            Assert.Throws<DeploymentException>(() => PackageAcquirer.NormalizeChecksum("not-a-checksum")).ErrorId);
    }
}
