using System;
using System.Collections.Generic;
using System.Threading;
using System.Threading.Tasks;
using Npgsql;

namespace ReleaseTools.Engine.Store.Postgres
{
    /// <summary>Small helpers for building commands and reading rows, shared by every part of the PostgreSQL store.</summary>
    internal static class PostgresCommands
    {
        public static NpgsqlCommand Create(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql) =>
            new NpgsqlCommand(sql, connection, transaction);

        /// <summary>Binds a value, re-using the parameter when the command already has it, so a command in a loop allocates nothing new.</summary>
        public static NpgsqlCommand With(this NpgsqlCommand command, string name, object? value)
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

        /// <summary>A text[] parameter for <c>= ANY(@p)</c>: one bound value whatever the list length.</summary>
        public static NpgsqlCommand WithList(this NpgsqlCommand command, string name, IEnumerable<string> values)
        {
            var array = new List<string>(values).ToArray();
            var index = command.Parameters.IndexOf(name);
            if (index >= 0)
            {
                command.Parameters[index].Value = array;
            }
            else
            {
                command.Parameters.Add(new NpgsqlParameter(name, NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Text) { Value = array });
            }

            return command;
        }

        public static async Task<IReadOnlyList<T>> ToListAsync<T>(this NpgsqlCommand command, Func<NpgsqlDataReader, T> map, CancellationToken cancellationToken)
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
