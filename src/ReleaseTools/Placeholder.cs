namespace ReleaseTools { internal static class Placeholder { } }
