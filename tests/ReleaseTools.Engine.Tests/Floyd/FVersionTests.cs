using ReleaseTools.Engine.Floyd;
using Xunit;

namespace ReleaseTools.Engine.Tests.Floyd;

public sealed class FVersionTests
{
    private const string ConfigMd5 = "0123456789abcdef0123456789abcdef";

    [Fact]
    public void Each_input_changes_the_fversion()
    {
        var baseline = FVersion.Compute("billing", "prod", "1.0.0", ConfigMd5);

        Assert.NotEqual(baseline, FVersion.Compute("billing2", "prod", "1.0.0", ConfigMd5));
        Assert.NotEqual(baseline, FVersion.Compute("billing", "staging", "1.0.0", ConfigMd5));
        Assert.NotEqual(baseline, FVersion.Compute("billing", "prod", "1.0.1", ConfigMd5));
        Assert.NotEqual(baseline, FVersion.Compute("billing", "prod", "1.0.0", "f123456789abcdef0123456789abcdef"));
    }

    [Fact]
    public void Fversion_is_url_safe_unpadded_and_never_starts_with_a_dash()
    {
        for (var i = 0; i < 2000; i++)
        {
            var fversion = FVersion.Compute($"svc{i}", "prod", "1.0.0", ConfigMd5);
            Assert.Matches("^[A-Za-z0-9_][A-Za-z0-9_-]{20,21}$", fversion);
        }
    }

    [Fact]
    public void Config_identity_is_case_insensitive_on_input()
    {
        Assert.Equal(FVersion.Compute("a", "b", "c", ConfigMd5), FVersion.Compute("a", "b", "c", ConfigMd5.ToUpperInvariant()));
    }

    [Theory]
    [InlineData("bill\ning", "prod", "1.0.0", ConfigMd5)]
    [InlineData("billing", "", "1.0.0", ConfigMd5)]
    [InlineData("billing", "prod", "1.0.0", "not-an-md5")]
    public void Ambiguous_or_malformed_inputs_are_refused(string service, string environment, string version, string configMd5)
    {
        Assert.ThrowsAny<ArgumentException>(() => FVersion.Compute(service, environment, version, configMd5));
    }
}
