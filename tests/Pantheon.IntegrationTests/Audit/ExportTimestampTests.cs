using System.Text;
using System.Text.Json;
using Pantheon.Web.Audit;

namespace Pantheon.IntegrationTests.Audit;

/// <summary>The export writes event times itself; they must read exactly as System.Text.Json writes a UTC time.</summary>
public class ExportTimestampTests
{
    private static readonly DateTime PostgresEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData("2026-11-27T10:10:40.607091Z")] // six digits
    [InlineData("2026-11-27T10:10:40.607090Z")] // a trailing zero trimmed
    [InlineData("2026-01-02T03:04:05.100000Z")] // one digit left
    [InlineData("2026-01-02T03:04:05Z")] // no fraction at all
    [InlineData("2000-01-01T00:00:00.000001Z")] // the epoch's first microsecond
    [InlineData("1999-12-31T23:59:59.999999Z")] // before the epoch
    [InlineData("9999-12-31T23:59:59.999999Z")]
    public void a_time_reads_as_the_json_serializer_writes_it(string text)
    {
        var time = DateTimeOffset.Parse(text, System.Globalization.CultureInfo.InvariantCulture);
        var microseconds = (time.UtcTicks - PostgresEpoch.Ticks) / 10;

        Span<byte> written = stackalloc byte[EventExport.TimestampLength];
        var length = EventExport.Timestamp(microseconds, written);

        var expected = JsonSerializer.Serialize(time, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Encoding.UTF8.GetString(written[..length]).ShouldBe(expected);
    }
}
