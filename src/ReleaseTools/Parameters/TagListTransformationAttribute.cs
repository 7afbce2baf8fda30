using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace ReleaseTools.Parameters
{
    /// <summary>
    /// Turns what users and CSV files give as tags into a list of tags: "a;b" is two tags (the form Export-Csv writes
    /// for ServiceInstance.Tags), an empty cell or an empty string is no tag, and arrays are flattened the same way.
    /// Surrounding spaces are dropped, so "a; b" is the same two tags.
    /// </summary>
    [AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
    public sealed class TagListTransformationAttribute : ArgumentTransformationAttribute
    {
        public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) => Split(inputData).ToArray();

        internal static IEnumerable<string> Split(object? inputData)
        {
            var value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
            switch (value)
            {
                case null:
                    yield break;
                case string text:
                    foreach (var tag in text.Split(TagList.Separator).Select(t => t.Trim()).Where(t => t.Length > 0))
                    {
                        yield return tag;
                    }

                    yield break;
                case IEnumerable items:
                    foreach (var item in items)
                    {
                        foreach (var tag in Split(item))
                        {
                            yield return tag;
                        }
                    }

                    yield break;
                default:
                    foreach (var tag in Split(LanguagePrimitives.ConvertTo<string>(value)))
                    {
                        yield return tag;
                    }

                    yield break;
            }
        }
    }
}
