using System.Collections.ObjectModel;
using System.Globalization;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Security;
using System.Text.RegularExpressions;

namespace ReleaseTools.Quickstart;

/// <summary>
/// The smallest PowerShell host that shows what a script writes: Out-Host tables (formatted by PowerShell itself,
/// with the module's format file), information, warnings and errors go to the console. It never prompts: the
/// quickstart runs unattended, so a prompt would be a bug.
/// </summary>
internal sealed class ConsoleHost : PSHost
{
    private readonly ConsoleHostUserInterface _ui = new();

    public override string Name => "ReleaseTools.Quickstart";
    public override Version Version { get; } = new(1, 0);
    public override Guid InstanceId { get; } = Guid.NewGuid();
    public override PSHostUserInterface UI => _ui;
    public override CultureInfo CurrentCulture => CultureInfo.CurrentCulture;
    public override CultureInfo CurrentUICulture => CultureInfo.CurrentUICulture;

    public override void SetShouldExit(int exitCode)
    {
    }

    public override void EnterNestedPrompt() => throw new NotSupportedException("The quickstart host has no nested prompt.");
    public override void ExitNestedPrompt() => throw new NotSupportedException("The quickstart host has no nested prompt.");

    public override void NotifyBeginApplication()
    {
    }

    public override void NotifyEndApplication()
    {
    }

    private sealed class ConsoleHostUserInterface : PSHostUserInterface
    {
        private readonly ConsoleRawUserInterface _raw = new();

        public override PSHostRawUserInterface RawUI => _raw;

        public override void Write(string value) => Console.Write(Plain(value));
        public override void Write(ConsoleColor foregroundColor, ConsoleColor backgroundColor, string value) => Console.Write(Plain(value));
        public override void WriteLine(string value) => Console.WriteLine(Plain(value));
        public override void WriteErrorLine(string value) => Console.Error.WriteLine(value);
        public override void WriteWarningLine(string message) => Console.WriteLine("WARNING: " + message);
        public override void WriteVerboseLine(string message) => Console.WriteLine("VERBOSE: " + message);
        public override void WriteDebugLine(string message) => Console.WriteLine("DEBUG: " + message);
        public override void WriteInformation(InformationRecord record) => Console.WriteLine(record.MessageData);

        public override void WriteProgress(long sourceId, ProgressRecord record)
        {
            // Progress bars would interleave with the tables in a plain console; the tables already tell the story.
        }

        public override string ReadLine() => throw Unattended();
        public override SecureString ReadLineAsSecureString() => throw Unattended();
        public override Dictionary<string, PSObject> Prompt(string caption, string message, Collection<FieldDescription> descriptions) => throw Unattended();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName) => throw Unattended();
        public override PSCredential PromptForCredential(string caption, string message, string userName, string targetName, PSCredentialTypes allowedCredentialTypes, PSCredentialUIOptions options) => throw Unattended();
        public override int PromptForChoice(string caption, string message, Collection<ChoiceDescription> choices, int defaultChoice) => throw Unattended();

        // PowerShell styles table headers with escape sequences; a file or a CI log wants the text alone.
        private static string Plain(string value) => Console.IsOutputRedirected ? Escapes.Replace(value, "") : value;

        private static readonly Regex Escapes = new("\u001b\\[[0-9;]*m", RegexOptions.Compiled);

        private static NotSupportedException Unattended() => new("The quickstart runs unattended and cannot prompt; pass -Force or -Confirm:$false.");
    }

    private sealed class ConsoleRawUserInterface : PSHostRawUserInterface
    {
        private static int Width => Console.IsOutputRedirected ? 160 : Math.Max(80, Console.WindowWidth);

        public override ConsoleColor BackgroundColor { get; set; } = ConsoleColor.Black;
        public override ConsoleColor ForegroundColor { get; set; } = ConsoleColor.Gray;
        public override Size BufferSize { get => new(Width, 3000); set { } }
        public override Coordinates CursorPosition { get; set; }
        public override int CursorSize { get; set; } = 1;
        public override bool KeyAvailable => false;
        public override Size MaxPhysicalWindowSize => new(Width, 50);
        public override Size MaxWindowSize => new(Width, 50);
        public override Coordinates WindowPosition { get; set; }
        public override Size WindowSize { get => new(Width, 50); set { } }
        public override string WindowTitle { get; set; } = "ReleaseTools quickstart";

        public override void FlushInputBuffer()
        {
        }

        public override BufferCell[,] GetBufferContents(Rectangle rectangle) => throw new NotSupportedException();
        public override KeyInfo ReadKey(ReadKeyOptions options) => throw new NotSupportedException("The quickstart runs unattended.");
        public override void ScrollBufferContents(Rectangle source, Coordinates destination, Rectangle clip, BufferCell fill) => throw new NotSupportedException();
        public override void SetBufferContents(Coordinates origin, BufferCell[,] contents) => throw new NotSupportedException();
        public override void SetBufferContents(Rectangle rectangle, BufferCell fill) => throw new NotSupportedException();
    }
}
