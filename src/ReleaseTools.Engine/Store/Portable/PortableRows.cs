using System;
using System.Data.Common;
using System.Threading;
using System.Threading.Tasks;

namespace ReleaseTools.Engine.Store.Portable
{
    /// <summary>Reads every portable table through any ADO.NET connection: both stores export with this one loop.</summary>
    internal static class PortableRows
    {
        /// <summary>Calls <paramref name="row"/> for every row of every portable table, read on <paramref name="connection"/> inside <paramref name="transaction"/> (if any).</summary>
        public static async Task ReadAllAsync(DbConnection connection, DbTransaction? transaction, Action<PortableTable, object?[]> row, CancellationToken cancellationToken)
        {
            foreach (var table in PortableSchema.Tables)
            {
                using var select = connection.CreateCommand();
                select.Transaction = transaction;
                select.CommandText = "SELECT " + table.ColumnList + " FROM " + table.Source;
                using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var values = new object?[table.Columns.Count];
                    for (var i = 0; i < values.Length; i++)
                    {
                        values[i] = PortableSchema.Read(reader, i, table.Columns[i].Kind);
                    }

                    row(table, values);
                }
            }
        }
    }
}
