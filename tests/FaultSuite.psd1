# The fault-injection and bad-input suite, by category: which xunit classes and which Pester tags belong to each.
# build.ps1 -Test prints one line per category from the test results (cases passed, failed, skipped, and their time).
@{
    Categories = @(
        @{ Name = 'network faults (reset, stall, 503, truncated, delayed)'; Xunit = @('ReleaseTools.Cmdlets.Tests.FaultInjectionTests'); Pester = @() }
        @{ Name = 'agent restarted between steps'; Xunit = @('ReleaseTools.Engine.Tests.Deployment.AgentRestartTests'); Pester = @() }
        @{ Name = 'client killed mid-run, resumed'; Xunit = @(); Pester = @('Fault:crash') }
        @{ Name = 'concurrent runs on one store'; Xunit = @(); Pester = @('Fault:concurrency') }
        @{ Name = 'store disk full or read-only'; Xunit = @('ReleaseTools.Cmdlets.Tests.StoreDiskFullTests', 'ReleaseTools.Cmdlets.Tests.PostgresStoreFaultTests'); Pester = @() }
        @{ Name = 'bad input: cmdlet parameters'; Xunit = @('ReleaseTools.Cmdlets.Tests.ParameterTableTests', 'ReleaseTools.Cmdlets.Tests.CmdletParameterTableTests'); Pester = @() }
        @{ Name = 'bad input: found when tried'; Xunit = @('ReleaseTools.Cmdlets.Tests.BadInputTests'); Pester = @('Fault:bad-input') }
        @{ Name = 'agent endpoints: mutation fuzz'; Xunit = @('ReleaseTools.Engine.Tests.Agent.AgentMutationFuzzTests'); Pester = @() }
    )
}
