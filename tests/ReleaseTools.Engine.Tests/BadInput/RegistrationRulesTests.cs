using ReleaseTools.Engine.Store;
using ReleaseTools.Engine.Store.Sqlite;
using Xunit;

namespace ReleaseTools.Engine.Tests.BadInput;

/// <summary>What may enter the registry: names as the agent accepts them (docs/floyd-protocol.md section 4) and real host names.</summary>
public sealed class RegistrationRulesTests
{
    [Theory]
    [InlineData("10.0.0.11")]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    [InlineData("[::1]")]
    [InlineData("fe80::1")]
    [InlineData("2001:db8::42")]
    [InlineData("localhost")]
    [InlineData("web-01.internal")]
    [InlineData("web-01.internal.")]
    [InlineData("a")]
    public void Addresses_and_DNS_names_are_host_names(string host) => Assert.True(RegistrationRules.IsValidHost(host), host);

    [Theory]
    [InlineData("127.0.0.1:7070")]
    [InlineData("web-01.internal:7070")]
    [InlineData("http://web-01.internal")]
    [InlineData("[::1]:7070")]
    [InlineData("256.0.0.1")]
    [InlineData("10.0.0")]
    [InlineData("10.0.0.1.2")]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("web 01")]
    [InlineData("web/01")]
    [InlineData("../etc")]
    [InlineData("-web")]
    [InlineData("web..internal")]
    [InlineData("wéb.internal")]
    [InlineData("web\n01")]
    [InlineData("[web]")]
    public void Anything_else_is_not(string host) => Assert.False(RegistrationRules.IsValidHost(host), host);

    [Fact]
    public void A_very_long_host_name_is_not_one() => Assert.False(RegistrationRules.IsValidHost(new string('a', 254)));

    [Theory]
    [InlineData("InstanceId", "../etc", RegistrationRules.InstanceIdInvalid)]
    [InlineData("Service", "../etc", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "a/b", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "web..1", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", " ", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "wéb", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "web\u0007", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "web\n", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "CON", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "nul.web", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "com7", RegistrationRules.ServiceNameInvalid)]
    [InlineData("Service", "web.", RegistrationRules.ServiceNameInvalid)]
    [InlineData("InstanceId", "LPT1", RegistrationRules.InstanceIdInvalid)]
    [InlineData("Environment", "/prod", RegistrationRules.EnvironmentNameInvalid)]
    [InlineData("Environment", "", RegistrationRules.EnvironmentNameInvalid)]
    [InlineData("HostName", "127.0.0.1:7070", RegistrationRules.HostNameInvalid)]
    [InlineData("AgentInstance", "b\n", RegistrationRules.AgentInstanceInvalid)]
    [InlineData("AgentInstance", "", RegistrationRules.AgentInstanceInvalid)]
    [InlineData("AgentInstance", "a.b", RegistrationRules.AgentInstanceInvalid)]
    [InlineData("AgentInstance", "-b", RegistrationRules.AgentInstanceInvalid)]
    [InlineData("AgentInstance", "Nul", RegistrationRules.AgentInstanceInvalid)]
    [InlineData("AgentCertificateFingerprint", "abc", RegistrationRules.AgentCertificateInvalid)]
    public void The_first_broken_rule_names_the_parameter_and_the_value(string parameter, string value, string errorId)
    {
        var registration = new InstanceRegistration { InstanceId = "web-01", Service = "web", Environment = "prod", Host = "10.0.0.11", Port = 7070 };
        registration = parameter switch
        {
            "InstanceId" => registration with { InstanceId = value },
            "Service" => registration with { Service = value },
            "Environment" => registration with { Environment = value },
            "AgentInstance" => registration with { AgentInstance = value },
            "AgentCertificateFingerprint" => registration with { AgentCertificate = value, UseHttps = true },
            _ => registration with { Host = value },
        };

        var problem = RegistrationRules.Check(registration);

        Assert.NotNull(problem);
        Assert.Equal(errorId, problem!.ErrorId);
        Assert.Equal(parameter, problem.Parameter);
        Assert.Equal(value, problem.Value);
        Assert.DoesNotContain('\u0007', problem.Message);
    }

    [Fact]
    public void An_agent_instance_id_is_up_to_64_letters_digits_underscores_and_dashes_and_a_pinned_certificate_needs_https()
    {
        var registration = new InstanceRegistration { InstanceId = "web-01", Service = "web", Environment = "prod", Host = "10.0.0.11", Port = 7070 };
        Assert.Null(RegistrationRules.Check(registration with { AgentInstance = "port-8081_B" }));
        Assert.Null(RegistrationRules.Check(registration with { AgentInstance = new string('b', 64) }));
        Assert.Equal(RegistrationRules.AgentInstanceInvalid, RegistrationRules.Check(registration with { AgentInstance = new string('b', 65) })?.ErrorId);

        const string pin = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        Assert.Null(RegistrationRules.Check(registration with { UseHttps = true, AgentCertificate = pin }));
        var withoutHttps = RegistrationRules.Check(registration with { AgentCertificate = pin });
        Assert.Equal(RegistrationRules.AgentCertificateInvalid, withoutHttps?.ErrorId);
        Assert.Contains("-UseHttps", withoutHttps!.Message);
        // Stored as 64 lowercase hex digits: the cmdlet normalises what people paste (colons, upper case) before the rules see it.
        Assert.Equal(pin, ReleaseTools.Engine.Floyd.AgentCertificatePins.Normalize("01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef"));
        Assert.NotNull(RegistrationRules.Check(registration with { UseHttps = true, AgentCertificate = pin.ToUpperInvariant() }));
    }

    [Fact]
    public void Names_follow_the_agents_pattern_to_its_length_limit()
    {
        Assert.True(RegistrationRules.IsValidName("payments-eu_2.blue"));
        Assert.True(RegistrationRules.IsValidName(new string('a', 100)));
        Assert.False(RegistrationRules.IsValidName(new string('a', 101)));
        Assert.False(RegistrationRules.IsValidName(".hidden"));
        Assert.Null(RegistrationRules.Check(new InstanceRegistration { InstanceId = "web-01", Service = "web", Environment = "prod", Host = "::1", Port = 1 }));
    }

    [Fact]
    public async Task The_store_refuses_what_the_rules_refuse_so_no_entry_point_bypasses_them()
    {
        using var temp = new ReleaseTools.Testing.TempDirectory("rt-rules");
        SqliteRuntime.EnsureInitialized();
        using var store = SqliteReleaseStore.Open(temp.Combine("store.db"));

        var error = await Assert.ThrowsAsync<ArgumentException>(() => store.RegisterInstanceAsync(
            new InstanceRegistration { InstanceId = "web-01", Service = "../etc", Environment = "prod", Host = "10.0.0.11", Port = 7070 }, CancellationToken.None));

        Assert.Contains("'../etc' is not a service name", error.Message);
        Assert.Empty(await store.FindInstancesAsync(new InstanceQuery(), CancellationToken.None));
    }
}
