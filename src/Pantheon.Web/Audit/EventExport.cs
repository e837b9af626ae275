using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Npgsql;
using Pantheon.Domain.Audit;

namespace Pantheon.Web.Audit;

/// <summary>
/// <c>audit export</c>: every matching event as one JSON line (sequence, time, stream, type, user, correlation id, data),
/// streamed from one binary COPY straight into output bytes (<see cref="ExportJson"/>). The stored JSON is copied byte by
/// byte (property names to the API's snake_case, secret fields blanked) instead of being turned into .NET objects and
/// back, and no host is built: the command needs a connection string, nothing else. Memory stays flat at any size.
/// The I/O is synchronous on purpose: one thread reads the socket and writes the output, so no continuation hops
/// through the thread pool, whose idle workers would otherwise spin for work on the cores PostgreSQL is using.
/// </summary>
public static class EventExport
{
    private static readonly JsonNamingPolicy Naming = JsonNamingPolicy.SnakeCaseLower;

    /// <summary>The event types (Marten's names) whose stored fields are secrets, by stored field name.</summary>
    private static readonly Dictionary<string, HashSet<string>> Secrets = AuditText.SecretFields.ToDictionary(
        f => Naming.ConvertName(f.Key.Name), f => f.Value.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);

    public sealed record Filter(DateTimeOffset? From, DateTimeOffset? To, Guid? Stream);

    /// <summary><c>audit export [--from time] [--to time] [--stream id]</c>, without a host: 0 on success, 2 on bad usage.</summary>
    public static int Run(IConfiguration configuration, string[] arguments)
    {
        if (!TryParse(arguments, out var filter, out var error))
        {
            Console.Error.WriteLine($"{error}\nusage: audit export [--from time] [--to time] [--stream id]");
            return 2;
        }
        var connection = configuration.GetConnectionString(PantheonApp.ConnectionStringName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{PantheonApp.ConnectionStringName} is not configured.");
        // Console's stream, not a plain file on descriptor 1: piped into a reader that stops early (`| head`), it ends quietly
        // where a file would throw a broken pipe.
        using var output = Console.OpenStandardOutput();
        Write(connection, configuration["Marten:Schema"] ?? "pantheon", filter, output);
        return 0;
    }

    public static void Write(string connectionString, string schema, Filter filter, Stream output)
    {
        using var source = ExportSource(connectionString);
        using var connection = source.OpenConnection();
        // COPY in binary: rows arrive as length-prefixed fields, read in place from one buffer, never as .NET objects.
        using var rows = connection.BeginRawBinaryCopy(Copy(schema, filter));
        var lines = new ArrayBufferWriter<byte>(OutputChunk * 2);
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            var (filled, parsed, headerRead) = (0, 0, false);
            while (true)
            {
                var read = rows.Read(buffer.AsSpan(filled));
                filled += read;
                if (!headerRead && filled >= CopyHeaderLength)
                {
                    if (!buffer.AsSpan(0, CopySignature.Length).SequenceEqual(CopySignature))
                        throw new InvalidDataException("COPY did not answer in its binary format.");
                    (parsed, headerRead) = (CopyHeaderLength + BinaryPrimitives.ReadInt32BigEndian(buffer.AsSpan(15)), true);
                }
                if (headerRead)
                {
                    var (consumed, done) = WriteRows(buffer.AsSpan(parsed, filled - parsed), lines);
                    parsed += consumed;
                    if (lines.WrittenCount >= OutputChunk || done || read == 0)
                    {
                        output.Write(lines.WrittenSpan);
                        lines.ResetWrittenCount();
                    }
                    if (done)
                    {
                        // Nothing may follow the trailer; reading on to the end lets the connection see the copy complete.
                        if (rows.Read(buffer) != 0) throw new InvalidDataException("COPY sent data after its trailer.");
                        break;
                    }
                }
                if (read == 0) throw new InvalidDataException("COPY ended in the middle of a row.");
                // Keep the partial row at the front; a row larger than the buffer gets a larger buffer.
                buffer.AsSpan(parsed, filled - parsed).CopyTo(buffer);
                (filled, parsed) = (filled - parsed, 0);
                if (filled == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, filled).CopyTo(larger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        output.Flush();
    }

    private const int OutputChunk = 1 << 16;

    /// <summary>
    /// The export's one connection: no pool to keep, none of the type mappings a query's parameters and results need (a
    /// binary COPY read in place uses none of them), and no load of the database's types (a query over <c>pg_type</c>
    /// that a first connection otherwise runs).
    /// </summary>
    internal static NpgsqlDataSource ExportSource(string connectionString)
    {
        var builder = new NpgsqlSlimDataSourceBuilder(connectionString);
        builder.ConnectionStringBuilder.Pooling = false;
        builder.ConnectionStringBuilder.ReadBufferSize = 1 << 16;
        builder.ConfigureTypeLoading(types => types.EnableTypeLoading(false));
        return builder.Build();
    }

    // PGCOPY\n\377\r\n\0, then 32-bit flags and the length of a header extension.
    private static readonly byte[] CopySignature = [(byte)'P', (byte)'G', (byte)'C', (byte)'O', (byte)'P', (byte)'Y', 10, 255, 13, 10, 0];
    private const int CopyHeaderLength = 19;

    private static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    // The per-row methods are compiled optimised on their first call: a one-shot process that runs them 100,000 times
    // would otherwise run them unoptimised first, then compile them again in the background while it works.

    /// <summary>
    /// Writes every whole row of <paramref name="rows"/> as a JSON line; answers how many bytes it used and whether it
    /// reached the end of the copy. A row cut off by the end of the buffer waits for the next read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (int Consumed, bool Done) WriteRows(ReadOnlySpan<byte> rows, ArrayBufferWriter<byte> lines)
    {
        var consumed = 0;
        Span<Field> fields = stackalloc Field[Columns];
        while (true)
        {
            var row = rows[consumed..];
            if (row.Length < 2) return (consumed, false);
            var count = BinaryPrimitives.ReadInt16BigEndian(row);
            if (count == -1) return (consumed + 2, true); // the trailer
            if (count != Columns) throw new InvalidDataException($"COPY sent {count} columns, not {Columns}.");
            var at = 2;
            for (var i = 0; i < Columns; i++)
            {
                if (row.Length < at + 4) return (consumed, false);
                var length = BinaryPrimitives.ReadInt32BigEndian(row[at..]);
                at += 4;
                fields[i] = new Field(at, length); // -1: null
                if (length < 0) continue;
                if (row.Length < at + length) return (consumed, false);
                at += length;
            }
            WriteRow(row[..at], fields, lines);
            consumed += at;
        }
    }

    private const int Columns = 7;

    /// <summary>Where a column's value lies in its row; <see cref="Length"/> -1 is SQL null.</summary>
    private readonly record struct Field(int Start, int Length)
    {
        public bool IsNull => Length < 0;
        public Range Range => new(Start, Start + Length);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WriteRow(ReadOnlySpan<byte> row, ReadOnlySpan<Field> fields, ArrayBufferWriter<byte> lines)
    {
        // Room for the worst case: every byte of the row escaped, the names, and a redaction per secret field.
        var secrets = SecretsOf(row[fields[3].Range]);
        var into = lines.GetSpan(row.Length * ExportJson.Growth + 256 + (secrets?.Count ?? 0) * ExportJson.RedactedLength);
        var at = 0;
        Put("{\"sequence\":"u8, into, ref at);
        var sequence = BinaryPrimitives.ReadInt64BigEndian(row[fields[0].Range]);
        sequence.TryFormat(into[at..], out var digits, provider: CultureInfo.InvariantCulture);
        at += digits;
        // timestamptz: microseconds since 2000-01-01 UTC, the value Npgsql would read.
        Put(",\"time\":"u8, into, ref at);
        at += Timestamp(BinaryPrimitives.ReadInt64BigEndian(row[fields[1].Range]), into[at..]);
        Put(",\"stream\":"u8, into, ref at);
        if (fields[2].IsNull) Put("null"u8, into, ref at);
        else
        {
            into[at++] = (byte)'"';
            new Guid(row[fields[2].Range], bigEndian: true).TryFormat(into[at..], out var written, "D");
            at += written;
            into[at++] = (byte)'"';
        }
        Put(",\"type\":"u8, into, ref at);
        ExportJson.String(row[fields[3].Range], into, ref at);
        Put(",\"user\":"u8, into, ref at);
        NullableString(row, fields[4], into, ref at);
        Put(",\"correlation_id\":"u8, into, ref at);
        NullableString(row, fields[5], into, ref at);
        Put(",\"data\":"u8, into, ref at);
        var data = row[fields[6].Range];
        if (data.Length == 0 || data[0] != 1) throw new InvalidDataException("jsonb arrived in a binary version this export does not read.");
        ExportJson.Transcode(data[1..], secrets, into, ref at);
        Put("}\n"u8, into, ref at);
        lines.Advance(at);
    }

    private static void Put(ReadOnlySpan<byte> text, Span<byte> into, ref int at)
    {
        text.CopyTo(into[at..]);
        at += text.Length;
    }

    internal const int TimestampLength = 34; // "yyyy-MM-ddTHH:mm:ss.ffffff+00:00", quoted

    /// <summary>
    /// A timestamptz (microseconds since 2000-01-01 UTC) as a JSON string in the export's form: ISO 8601 with the
    /// fraction's trailing zeros trimmed and a +00:00 offset, the form System.Text.Json gives a UTC
    /// <see cref="DateTimeOffset"/>, with the plus sign unescaped. Written digit by digit instead of through the general
    /// formatter, which cost a row more than its JSON.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int Timestamp(long microseconds, Span<byte> into)
    {
        var time = PostgresEpoch.AddTicks(microseconds * 10);
        var (year, month, day) = time;
        into[0] = (byte)'"';
        var at = 1;
        Digits(into, ref at, year, 4); into[at++] = (byte)'-';
        Digits(into, ref at, month, 2); into[at++] = (byte)'-';
        Digits(into, ref at, day, 2); into[at++] = (byte)'T';
        Digits(into, ref at, time.Hour, 2); into[at++] = (byte)':';
        Digits(into, ref at, time.Minute, 2); into[at++] = (byte)':';
        Digits(into, ref at, time.Second, 2);
        var fraction = (int)(time.Ticks % TimeSpan.TicksPerSecond);
        if (fraction != 0)
        {
            var digits = 7;
            while (fraction % 10 == 0) (fraction, digits) = (fraction / 10, digits - 1);
            into[at++] = (byte)'.';
            Digits(into, ref at, fraction, digits);
        }
        "+00:00\""u8.CopyTo(into[at..]);
        return at + 7;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Digits(Span<byte> into, ref int at, int value, int count)
    {
        for (var i = at + count - 1; i >= at; i--, value /= 10) into[i] = (byte)('0' + value % 10);
        at += count;
    }

    private static void NullableString(ReadOnlySpan<byte> row, Field field, Span<byte> into, ref int at)
    {
        if (field.IsNull) Put("null"u8, into, ref at);
        else ExportJson.String(row[field.Range], into, ref at);
    }

    /// <summary>The secret fields of an event type, by its stored name in UTF-8; null for a type without any.</summary>
    private static HashSet<string>? SecretsOf(ReadOnlySpan<byte> type)
    {
        foreach (var (name, fields) in SecretsUtf8)
            if (type.SequenceEqual(name)) return fields;
        return null;
    }

    private static readonly (byte[] Type, HashSet<string> Fields)[] SecretsUtf8 =
        Secrets.Select(s => (Encoding.UTF8.GetBytes(s.Key), s.Value)).ToArray();

    private static string Copy(string schema, Filter filter)
    {
        // COPY takes no parameters: the filters are values this command parsed itself, written back as typed literals.
        var sql = new StringBuilder("copy (select seq_id, timestamp, stream_id, type, user_name, correlation_id, data from ")
            .Append(schema).Append(".mt_events where is_archived = false");
        if (filter.From is { } from) sql.Append(" and timestamp >= '").Append(Literal(from)).Append("'::timestamptz");
        if (filter.To is { } to) sql.Append(" and timestamp <= '").Append(Literal(to)).Append("'::timestamptz");
        if (filter.Stream is { } stream) sql.Append(" and stream_id = '").Append(stream.ToString("D")).Append("'::uuid");
        return sql.Append(" order by seq_id) to stdout (format binary)").ToString();
    }

    private static string Literal(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    private static bool TryParse(string[] arguments, out Filter filter, out string error)
    {
        (DateTimeOffset? from, DateTimeOffset? to, Guid? stream) = (null, null, null);
        (filter, error) = (new Filter(null, null, null), "");
        for (var i = 0; i < arguments.Length; i++)
        {
            var value = i + 1 < arguments.Length ? arguments[i + 1] : null;
            switch (arguments[i])
            {
                case "--from" when TryTime(value, out var f): from = f; i++; break;
                case "--to" when TryTime(value, out var t): to = t; i++; break;
                case "--stream" when Guid.TryParse(value, out var s): stream = s; i++; break;
                default:
                    error = $"audit export: cannot read '{arguments[i]}{(value is null ? "" : " " + value)}'.";
                    return false;
            }
        }
        filter = new Filter(from, to, stream);
        return true;
    }

    private static bool TryTime(string? text, out DateTimeOffset time) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out time);
}
