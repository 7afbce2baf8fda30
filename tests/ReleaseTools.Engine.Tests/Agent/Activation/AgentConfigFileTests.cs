using ReleaseTools.Agent.Activation;
using ReleaseTools.Agent.Hosting;
using ReleaseTools.Testing;
using Xunit;

namespace ReleaseTools.Engine.Tests.Agent.Activation;

public sealed class AgentConfigFileTests : IDisposable
{
    private readonly TempDirectory _temp = new("floyd-config");

    [Fact]
    public void A_yaml_file_sets_the_options_and_each_service_and_the_command_line_overrides_it()
    {
        var path = _temp.WriteFile("etc/agent.yaml", """
            urls: [ "http://127.0.0.1:7070" ]
            dataDir: ../data
            authorizedKeys: [ keys/deploy.pem ]
            hashAlgorithm: sha256
            keepReleases: 4
            maxExpandedBytes: 1000000
            services:
              web:
                directory: /srv/web
                configPath: conf/web.conf
                allowPackageHooks: true
                hooks:
                  beforeActivate: { run: "echo before", timeout: 5s }
                  activate: { run: "systemctl restart web", timeout: 2m }
                healthCheck:
                  http: { url: "http://127.0.0.1:8080/health", expectStatus: 204, bodyContains: ok, timeout: 500ms }
                  attempts: 3
                  interval: 2s
              worker:
                healthCheck:
                  command: { run: "test -f ready" }
            """);

        var options = FloydAgentCommandLine.Parse(new[] { "--keep-releases", "2", "--config", path });

        Assert.Equal(new[] { "http://127.0.0.1:7070" }, options.Urls);
        Assert.Equal(_temp.Combine("data"), options.DataDirectory);
        Assert.Equal(new[] { _temp.Combine("etc", "keys", "deploy.pem") }, options.AuthorizedKeyFiles);
        Assert.Equal(ReleaseTools.Engine.Floyd.FloydHashAlgorithm.Sha256, options.HashAlgorithm);
        Assert.Equal(2, options.KeepReleases);
        Assert.Equal(1_000_000, options.MaxExpandedBytes);
        var web = options.Services["web"];
        Assert.Equal("/srv/web", web.Directory);
        Assert.Equal("conf/web.conf", web.ConfigPath);
        Assert.True(web.AllowPackageHooks);
        Assert.Equal(new HookCommand("echo before", TimeSpan.FromSeconds(5)), web.BeforeActivate);
        Assert.Equal(new HookCommand("systemctl restart web", TimeSpan.FromMinutes(2)), web.Activate);
        Assert.Null(web.AfterActivate);
        Assert.Equal(new Uri("http://127.0.0.1:8080/health"), web.HealthCheck!.Http!.Url);
        Assert.Equal(204, web.HealthCheck.Http.ExpectStatus);
        Assert.Equal("ok", web.HealthCheck.Http.BodyContains);
        Assert.Equal(TimeSpan.FromMilliseconds(500), web.HealthCheck.Http.Timeout);
        Assert.Equal(3, web.HealthCheck.Attempts);
        Assert.Equal(TimeSpan.FromSeconds(2), web.HealthCheck.Interval);
        Assert.Equal(new HookCommand("test -f ready", HookCommand.DefaultTimeout), options.Services["worker"].HealthCheck!.Command);
    }

    [Fact]
    public void A_json_file_is_read_the_same_way()
    {
        var path = _temp.WriteFile("agent.json", """
            {
              "dataDir": "/var/lib/floyd",
              "authorizedKeys": ["/etc/floyd/keys/deploy.pem"],
              "services": {
                "web": {
                  "hooks": { "activate": { "run": "systemctl restart web", "timeout": 90 } },
                  "healthCheck": { "http": { "url": "http://127.0.0.1:8080/health" } }
                }
              }
            }
            """);

        var options = FloydAgentCommandLine.Parse(new[] { "--config", path });

        Assert.Equal("/var/lib/floyd", options.DataDirectory);
        Assert.Equal(TimeSpan.FromSeconds(90), options.Services["web"].Activate!.Timeout);
        Assert.Equal(200, options.Services["web"].HealthCheck!.Http!.ExpectStatus);
        Assert.Equal(10, options.Services["web"].HealthCheck!.Attempts);
    }

    [Fact]
    public void An_instance_section_overrides_what_it_sets_of_its_service_and_never_takes_the_service_s_directory()
    {
        var path = _temp.WriteFile("etc/instances.yaml", """
            dataDir: /var/lib/floyd
            authorizedKeys: [ keys/deploy.pem ]
            services:
              web:
                directory: /srv/web
                configPath: conf/web.conf
                hooks:
                  activate: { run: "systemctl restart web@$FLOYD_INSTANCE" }
                healthCheck:
                  http: { url: "http://127.0.0.1:8081/health" }
                instances:
                  port-8082:
                    healthCheck:
                      http: { url: "http://127.0.0.1:8082/health" }
                  port-8083:
                    directory: /srv/web-8083
            """);

        var options = FloydAgentCommandLine.Parse(new[] { "--config", path });
        var layout = new ReleaseLayout(options);

        var second = options.Services["web@port-8082"];
        Assert.Null(second.Directory);
        Assert.Equal("conf/web.conf", second.ConfigPath);
        Assert.Equal("systemctl restart web@$FLOYD_INSTANCE", second.Activate!.Run);
        Assert.Equal(new Uri("http://127.0.0.1:8082/health"), second.HealthCheck!.Http!.Url);
        Assert.Equal("/srv/web-8083", options.Services["web@port-8083"].Directory);
        Assert.Equal(new Uri("http://127.0.0.1:8081/health"), options.Services["web@port-8083"].HealthCheck!.Http!.Url);
        Assert.Equal("/srv/web", layout.ServiceDirectory("web"));
        Assert.Equal(Path.Combine("/var/lib/floyd", "services", "web@port-8082"), layout.ServiceDirectory("web@port-8082"));
        // An instance with no section of its own gets the service's, but its own directory.
        Assert.Equal("systemctl restart web@$FLOYD_INSTANCE", layout.SettingsFor("web@other").Activate!.Run);
        Assert.Equal(Path.Combine("/var/lib/floyd", "services", "web@other"), layout.ServiceDirectory("web@other"));
    }

    [Theory]
    [InlineData("services:\n  web:\n    hooks:\n      activte: { run: x }\n", "line 6")]
    [InlineData("services:\n  web:\n    healthCheck: { attempts: 3 }\n", "exactly one of 'http' or 'command'")]
    [InlineData("services:\n  web:\n    configPath: ../outside.conf\n", "configPath")]
    [InlineData("services:\n  web:\n    hooks:\n      activate: { run: x, timeout: soon }\n", "positive duration")]
    [InlineData("services:\n  ../etc:\n    {}\n", "not allowed")]
    [InlineData("services:\n  web:\n    instances:\n      a.b: {}\n", "services.web.instances.a.b")]
    [InlineData("services:\n  web:\n    instances:\n      b:\n        instances: { c: {} }\n", "no instances of its own")]
    public void Mistakes_in_the_file_stop_the_agent_with_the_place_and_the_reason(string yaml, string expected)
    {
        var path = _temp.WriteFile($"bad-{Guid.NewGuid():N}.yaml", "dataDir: /tmp/x\nauthorizedKeys: [k.pem]\n" + yaml);

        var error = Assert.Throws<FormatException>(() => FloydAgentCommandLine.Parse(new[] { "--config", path }));

        Assert.Contains(expected, error.Message);
        Assert.Contains(path, error.Message);
    }

    public void Dispose() => _temp.Dispose();
}
