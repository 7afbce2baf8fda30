using System;
using System.Collections.Generic;
using System.Text.Json;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.Data.Sqlite;

namespace ReleaseTools.Engine.Store.Sqlite
{
    /// <summary>Small helpers for building commands and reading rows, shared by every part of the SQLite store.</summary>
    internal static class StoreCommands
    {
        public static SqliteCommand Create(SqliteConnection connection, SqliteTransaction? transaction, string sql)
        {
            var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return command;
        }

        /// <summary>Binds a value, re-using the parameter when the command already has it, so a prepared command in a loop allocates nothing new.</summary>
        public static SqliteCommand With(this SqliteCommand command, string name, object? value)
        {
            var index = command.Parameters.IndexOf(name);
            if (index >= 0)
            {
                command.Parameters[index].Value = value ?? DBNull.Value;
            }
            else
            {
                command.Parameters.AddWithValue(name, value ?? DBNull.Value);
            }

            return command;
        }

        /// <summary>A list parameter for <c>IN (SELECT value FROM json_each($p))</c>: one bound value whatever the list length.</summary>
        public static string JsonList(IEnumerable<string> values) => JsonSerializer.Serialize(values);

        public static async Task<IReadOnlyList<T>> ToListAsync<T>(this SqliteCommand command, Func<SqliteDataReader, T> map, CancellationToken cancellationToken)
        {
            var result = new List<T>();
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(map(reader));
            }

            return result;
        }
    }
}
