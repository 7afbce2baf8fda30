namespace ReleaseTools
{
    /// <summary>What one Register-ServiceInstance invocation did to the registry, as its information record.</summary>
    public sealed class RegistrationSummary
    {
        public RegistrationSummary(int added, int changed, int unchanged)
        {
            Added = added;
            Changed = changed;
            Unchanged = unchanged;
        }

        public int Added { get; }
        public int Changed { get; }
        public int Unchanged { get; }

        public override string ToString() => $"Registered instances: {Added} added, {Changed} changed, {Unchanged} unchanged.";
    }
}
