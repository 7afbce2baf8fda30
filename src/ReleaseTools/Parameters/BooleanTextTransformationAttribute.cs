using System;
using System.Management.Automation;

namespace ReleaseTools.Parameters
{
    /// <summary>
    /// Lets a switch bind from an inventory row: Import-Csv gives every cell as text, and PowerShell binds no text to a
    /// switch, so "True" and "False" (what Export-Csv writes for a Boolean), "1", "0" and an empty cell (false) are read
    /// here. Anything else is left as it is, for PowerShell to refuse with its own message.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class BooleanTextTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            if (value is string text)
            {
                var trimmed = text.Trim();
                if (trimmed.Length == 0 || trimmed == "0" || string.Equals(trimmed, bool.FalseString, StringComparison.OrdinalIgnoreCase))
                {
                    return new SwitchParameter(false);
                }

                if (trimmed == "1" || string.Equals(trimmed, bool.TrueString, StringComparison.OrdinalIgnoreCase))
                {
                    return new SwitchParameter(true);
                }
            }

            return inputData;
        }
    }
}
