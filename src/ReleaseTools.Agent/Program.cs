using ReleaseTools.Agent.Hosting;

FloydAgentOptions options;
try
{
    options = FloydAgentCommandLine.Parse(args);
}
catch (FormatException ex)
{
    Console.Error.WriteLine(ex.Message);
    Console.Error.WriteLine(FloydAgentCommandLine.Usage);
    return 2;
}

RunningFloydAgent agent;
try
{
    agent = await FloydAgentHost.StartAsync(options);
}
catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or ArgumentException)
{
    Console.Error.WriteLine($"The Floyd agent did not start: {ex.Message}");
    return 1;
}

await using (agent)
{
    // One line per bound address: a parent process that asked for port 0 reads the real port from here.
    foreach (var address in agent.Addresses)
    {
        Console.Out.WriteLine($"Floyd agent listening on {address}");
    }

    Console.Out.Flush();
    await agent.WaitForShutdownAsync();
}

return 0;
