using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Npgsql;
using Pantheon.Domain.Audit;

namespace Pantheon.Web.Audit;

/// <summary>
/// <c>audit export</c>: every matching event as one JSON line (sequence, time, stream, type, user, correlation id, data),
/// streamed from one query straight into a <see cref="Utf8JsonWriter"/>. The stored JSON is transcoded token by token
/// (property names to the API's snake_case, secret fields blanked) instead of being turned into .NET objects and back,
/// and no host is built: the command needs a connection string, nothing else. Memory stays flat at any size.
/// </summary>
public static class EventExport
{
    private static readonly JsonNamingPolicy Naming = JsonNamingPolicy.SnakeCaseLower;

    /// <summary>The event types (Marten's names) whose stored fields are secrets, by stored field name.</summary>
    private static readonly Dictionary<string, HashSet<string>> Secrets = AuditText.SecretFields.ToDictionary(
        f => Naming.ConvertName(f.Key.Name), f => f.Value.ToHashSet(StringComparer.Ordinal), StringComparer.Ordinal);

    private static readonly JsonEncodedText Redacted = JsonEncodedText.Encode("[redacted]");
    private static readonly JsonEncodedText Sequence = JsonEncodedText.Encode("sequence"), Time = JsonEncodedText.Encode("time"),
        Stream = JsonEncodedText.Encode("stream"), Type = JsonEncodedText.Encode("type"), User = JsonEncodedText.Encode("user"),
        Correlation = JsonEncodedText.Encode("correlation_id"), Data = JsonEncodedText.Encode("data");

    public sealed record Filter(DateTimeOffset? From, DateTimeOffset? To, Guid? Stream);

    /// <summary><c>audit export [--from time] [--to time] [--stream id]</c>, without a host: 0 on success, 2 on bad usage.</summary>
    public static async Task<int> RunAsync(IConfiguration configuration, string[] arguments)
    {
        if (!TryParse(arguments, out var filter, out var error))
        {
            await Console.Error.WriteLineAsync($"{error}\nusage: audit export [--from time] [--to time] [--stream id]");
            return 2;
        }
        var connection = configuration.GetConnectionString(PantheonApp.ConnectionStringName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{PantheonApp.ConnectionStringName} is not configured.");
        await using var output = new BufferedStream(Console.OpenStandardOutput(), 1 << 16);
        await WriteAsync(connection, configuration["Marten:Schema"] ?? "pantheon", filter, output, CancellationToken.None);
        return 0;
    }

    public static async Task WriteAsync(string connectionString, string schema, Filter filter, Stream output, CancellationToken ct)
    {
        await using var database = NpgsqlDataSource.Create(connectionString);
        await using var command = database.CreateCommand(Sql(schema, filter));
        if (filter.From is { } from) command.Parameters.Add(new NpgsqlParameter { ParameterName = "from", Value = from });
        if (filter.To is { } to) command.Parameters.Add(new NpgsqlParameter { ParameterName = "to", Value = to });
        if (filter.Stream is { } stream) command.Parameters.Add(new NpgsqlParameter { ParameterName = "stream", Value = stream });

        var line = new ArrayBufferWriter<byte>(4096);
        await using var json = new Utf8JsonWriter(line, new JsonWriterOptions { SkipValidation = true });
        byte[] scratch = ArrayPool<byte>.Shared.Rent(4096);
        try
        {
            await using var reader = await command.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess, ct);
            while (await reader.ReadAsync(ct))
            {
                // Sequential access: columns are read in order.
                json.Reset(line);
                json.WriteStartObject();
                json.WriteNumber(Sequence, reader.GetInt64(0));
                json.WriteString(Time, new DateTimeOffset(reader.GetFieldValue<DateTime>(1)));
                if (reader.IsDBNull(2)) json.WriteNull(Stream); else json.WriteString(Stream, reader.GetGuid(2));
                var type = reader.GetString(3);
                json.WriteString(Type, type);
                WriteNullableString(json, User, reader, 4);
                WriteNullableString(json, Correlation, reader, 5);
                json.WritePropertyName(Data);
                var data = reader.GetString(6);
                if (scratch.Length < Encoding.UTF8.GetMaxByteCount(data.Length))
                {
                    ArrayPool<byte>.Shared.Return(scratch);
                    scratch = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(data.Length));
                }
                var length = Encoding.UTF8.GetBytes(data, scratch);
                Transcode(scratch.AsSpan(0, length), json, Secrets.GetValueOrDefault(type));
                json.WriteEndObject();
                json.Flush();
                output.Write(line.WrittenSpan);
                output.WriteByte((byte)'\n');
                line.ResetWrittenCount();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
        await output.FlushAsync(ct);
    }

    private static string Sql(string schema, Filter filter)
    {
        var sql = new StringBuilder("select seq_id, timestamp, stream_id, type, user_name, correlation_id, data::text from ")
            .Append(schema).Append(".mt_events where is_archived = false");
        if (filter.From is not null) sql.Append(" and timestamp >= @from");
        if (filter.To is not null) sql.Append(" and timestamp <= @to");
        if (filter.Stream is not null) sql.Append(" and stream_id = @stream");
        return sql.Append(" order by seq_id").ToString();
    }

    private static void WriteNullableString(Utf8JsonWriter json, JsonEncodedText name, NpgsqlDataReader reader, int ordinal)
    {
        if (reader.IsDBNull(ordinal)) json.WriteNull(name);
        else json.WriteString(name, reader.GetString(ordinal));
    }

    /// <summary>
    /// Copies stored event JSON token by token, renaming properties as the API names them and blanking secret fields
    /// of the top-level object: the same document that deserialising the event and serialising it for the API gives.
    /// </summary>
    private static void Transcode(ReadOnlySpan<byte> data, Utf8JsonWriter json, HashSet<string>? secrets)
    {
        var reader = new Utf8JsonReader(data);
        var depth = 0;
        while (reader.Read())
        {
            switch (reader.TokenType)
            {
                case JsonTokenType.StartObject: json.WriteStartObject(); depth++; break;
                case JsonTokenType.EndObject: json.WriteEndObject(); depth--; break;
                case JsonTokenType.StartArray: json.WriteStartArray(); depth++; break;
                case JsonTokenType.EndArray: json.WriteEndArray(); depth--; break;
                case JsonTokenType.PropertyName:
                    var name = reader.GetString()!;
                    json.WritePropertyName(Names.GetOrAdd(name, n => JsonEncodedText.Encode(Naming.ConvertName(n))));
                    if (depth == 1 && secrets?.Contains(name) == true)
                    {
                        reader.Read();
                        reader.Skip();
                        json.WriteStringValue(Redacted);
                    }
                    break;
                case JsonTokenType.String when reader.ValueIsEscaped: json.WriteStringValue(reader.GetString()); break;
                case JsonTokenType.String: json.WriteStringValue(reader.ValueSpan); break;
                case JsonTokenType.Number: json.WriteRawValue(reader.ValueSpan, skipInputValidation: true); break;
                case JsonTokenType.True: json.WriteBooleanValue(true); break;
                case JsonTokenType.False: json.WriteBooleanValue(false); break;
                case JsonTokenType.Null: json.WriteNullValue(); break;
            }
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, JsonEncodedText> Names = new(StringComparer.Ordinal);

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
