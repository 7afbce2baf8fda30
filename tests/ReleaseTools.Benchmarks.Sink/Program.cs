using ReleaseTools.Benchmarks.Sink;

// sink --sink-work write|hashes --dir D: prints its address, then serves until its standard input closes.
string? directory = null;
var work = SinkWork.WriteOnly;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--dir":
            directory = args[i + 1];
            break;
        case "--sink-work":
            work = args[i + 1] == "hashes" ? SinkWork.MandatoryHashes : SinkWork.WriteOnly;
            break;
        default:
            Console.Error.WriteLine($"Unknown option {args[i]}. Usage: ReleaseTools.Benchmarks.Sink --dir D [--sink-work write|hashes]");
            return 2;
    }
}

if (directory == null)
{
    Console.Error.WriteLine("Usage: ReleaseTools.Benchmarks.Sink --dir D [--sink-work write|hashes]");
    return 2;
}

return await RawSinkServer.RunChildAsync(directory, work);
