using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Pantheon.Web.Audit;

/// <summary>
/// The export's JSON, written byte by byte into a span sized for the worst case: the bytes <see cref="Utf8JsonWriter"/>
/// writes with its default encoder, without its per-call checks, state and tokenizer. Strings are escaped as that
/// encoder escapes them (<c>\b \t \n \f \r \\</c>, and <c>\uXXXX</c> in upper-case hex for other control characters,
/// <c>" &amp; ' + &lt; &gt; `</c>, DEL and every non-ASCII character, as UTF-16 units); stored event JSON (PostgreSQL's
/// text form of <c>jsonb</c>) is copied with its whitespace dropped, its property names renamed, its strings escaped so,
/// and its numbers as they are. A one-shot process spends most of its time compiling what it runs: this is one small
/// method family, compiled once, where a reader and a writer are dozens of methods that each compile twice.
/// </summary>
internal static class ExportJson
{
    /// <summary>How far escaping can grow a text: one byte (<c>+</c>, say) becomes six (<c>\u002B</c>).</summary>
    public const int Growth = 6;

    /// <summary>
    /// By byte: whether it starts an escape or a non-ASCII character (control characters, <c>" &amp; ' + &lt; &gt; \ `</c>,
    /// DEL and every byte from 0x80 up); every other byte stands in a JSON string as it is.
    /// </summary>
    private static readonly bool[] EscapedBytes = Enumerable.Range(0, 256)
        .Select(b => b < 0x20 || b >= 0x7F || "\"&'+<>\\`".Contains((char)b)).ToArray();

    private static ReadOnlySpan<byte> Hex => "0123456789ABCDEF"u8;

    /// <summary>Writes <paramref name="text"/> (UTF-8) as a quoted JSON string.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void String(ReadOnlySpan<byte> text, Span<byte> into, ref int at)
    {
        into[at++] = (byte)'"';
        Text(text, into, ref at);
        into[at++] = (byte)'"';
    }

    /// <summary>Writes UTF-8 text escaped for the inside of a JSON string; invalid UTF-8 becomes U+FFFD, as the writer does.</summary>
    /// <remarks>
    /// Byte by byte through a table, not a vectorised search: the strings of an event are short, and a one-shot process
    /// would run a vectorised search unoptimised for most of its life (it is compiled per search type, then again).
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Text(ReadOnlySpan<byte> text, Span<byte> into, ref int at)
    {
        var escaped = EscapedBytes;
        var i = 0;
        while (i < text.Length)
        {
            var b = text[i];
            if (!escaped[b])
            {
                into[at++] = b;
                i++;
            }
            else if (b < 0x80)
            {
                Ascii(b, into, ref at);
                i++;
            }
            else
            {
                if (Rune.DecodeFromUtf8(text[i..], out var rune, out var used) != OperationStatus.Done) rune = Rune.ReplacementChar;
                Unicode(rune, into, ref at);
                i += used;
            }
        }
    }

    /// <summary>An ASCII character that must be escaped, or that may stand as it is.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Ascii(byte character, Span<byte> into, ref int at)
    {
        var escape = character switch
        {
            (byte)'\b' => (byte)'b', (byte)'\t' => (byte)'t', (byte)'\n' => (byte)'n', (byte)'\f' => (byte)'f', (byte)'\r' => (byte)'r',
            (byte)'\\' => (byte)'\\',
            _ => (byte)0,
        };
        if (escape != 0)
        {
            into[at++] = (byte)'\\';
            into[at++] = escape;
        }
        else if (EscapedBytes[character]) Unit(character, into, ref at);
        else into[at++] = character;
    }

    private static void Unicode(Rune rune, Span<byte> into, ref int at)
    {
        if (rune.Value < 0x80)
        {
            Ascii((byte)rune.Value, into, ref at);
            return;
        }
        Span<char> units = stackalloc char[2];
        var count = rune.EncodeToUtf16(units);
        for (var i = 0; i < count; i++) Unit(units[i], into, ref at);
    }

    /// <summary><c>\uXXXX</c>, upper-case.</summary>
    private static void Unit(int unit, Span<byte> into, ref int at)
    {
        into[at] = (byte)'\\';
        into[at + 1] = (byte)'u';
        into[at + 2] = Hex[(unit >> 12) & 0xF];
        into[at + 3] = Hex[(unit >> 8) & 0xF];
        into[at + 4] = Hex[(unit >> 4) & 0xF];
        into[at + 5] = Hex[unit & 0xF];
        at += 6;
    }

    /// <summary>
    /// Copies a stored JSON document: property names as the API names them (snake_case), the top-level
    /// properties in <paramref name="secrets"/> as <c>"[redacted]"</c>. Needs at most <see cref="Growth"/> times its
    /// length plus <see cref="RedactedLength"/> per secret field of room.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Transcode(ReadOnlySpan<byte> json, HashSet<string>? secrets, Span<byte> into, ref int at)
    {
        var depth = 0;
        var i = 0;
        while (i < json.Length)
        {
            var b = json[i];
            switch (b)
            {
                case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t':
                    i++;
                    break;
                case (byte)'{' or (byte)'[':
                    depth++;
                    into[at++] = b;
                    i++;
                    break;
                case (byte)'}' or (byte)']':
                    depth--;
                    into[at++] = b;
                    i++;
                    break;
                case (byte)',':
                    into[at++] = b;
                    i++;
                    break;
                case (byte)'"':
                    var end = StringEnd(json, i, out var escaped);
                    var content = json[(i + 1)..(end - 1)];
                    i = SkipSpace(json, end);
                    if (i < json.Length && json[i] == ':')
                    {
                        var (stored, api) = PropertyName(content, escaped);
                        into[at++] = (byte)'"';
                        api.CopyTo(into[at..]);
                        at += api.Length;
                        into[at++] = (byte)'"';
                        into[at++] = (byte)':';
                        i++;
                        if (depth == 1 && secrets?.Contains(stored) == true)
                        {
                            i = SkipValue(json, i);
                            Redacted.CopyTo(into[at..]);
                            at += Redacted.Length;
                        }
                    }
                    else
                    {
                        into[at++] = (byte)'"';
                        if (escaped) Unescape(content, into, ref at); else Text(content, into, ref at);
                        into[at++] = (byte)'"';
                    }
                    break;
                default:
                    // A number, true, false or null, as it is.
                    var start = i;
                    while (i < json.Length && !Ends(json[i])) i++;
                    if (i == start) throw new InvalidDataException($"Stored event JSON has '{(char)b}' where a value belongs.");
                    json[start..i].CopyTo(into[at..]);
                    at += i - start;
                    break;
            }
        }
        if (depth != 0) throw new InvalidDataException("Stored event JSON ends inside an object or array.");
    }

    private static ReadOnlySpan<byte> Redacted => "\"[redacted]\""u8;

    private sealed record NameEntry(string Stored, byte[] Utf8, byte[] Api);

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<byte[], NameEntry> Names = new(new Utf8Names());
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<byte[], NameEntry>.AlternateLookup<ReadOnlySpan<byte>>
        NamesByUtf8 = Names.GetAlternateLookup<ReadOnlySpan<byte>>();

    /// <summary>
    /// A property's stored name and its API name (encoded), looked up by the name's bytes as they lie in the row: first in
    /// a small table of recent names by a hash computed here, then in the cache of every name.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (string Stored, byte[] Api) PropertyName(ReadOnlySpan<byte> content, bool escaped)
    {
        var hash = 2166136261u;
        foreach (var b in content) hash = (hash ^ b) * 16777619u;
        var slot = (int)(hash & (RecentNames - 1));
        if (!escaped && Recent[slot] is { } recent && Same(recent.Utf8, content)) return (recent.Stored, recent.Api);
        if (!escaped && NamesByUtf8.TryGetValue(content, out var cached))
        {
            Recent[slot] = cached; // a reference written whole: a racing reader sees this entry or the one before
            return (cached.Stored, cached.Api);
        }
        var name = escaped ? JsonSerializer.Deserialize<string>([(byte)'"', .. content, (byte)'"'])! : Encoding.UTF8.GetString(content);
        var utf8 = Encoding.UTF8.GetBytes(name);
        var entry = Names.GetOrAdd(utf8,
            _ => new NameEntry(name, utf8,
                JsonEncodedText.Encode(JsonNamingPolicy.SnakeCaseLower.ConvertName(name)).EncodedUtf8Bytes.ToArray()));
        return (entry.Stored, entry.Api);
    }

    private const int RecentNames = 256;
    private static readonly NameEntry?[] Recent = new NameEntry?[RecentNames];

    private static bool Same(byte[] known, ReadOnlySpan<byte> name)
    {
        if (known.Length != name.Length) return false;
        for (var i = 0; i < name.Length; i++)
            if (known[i] != name[i]) return false;
        return true;
    }

    /// <summary>Compares names as UTF-8 bytes, so that a name read from a row is looked up without decoding it.</summary>
    private sealed class Utf8Names : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);
        public int GetHashCode(byte[] name) => GetHashCode((ReadOnlySpan<byte>)name);
        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);
        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }
    }

    /// <summary>What a redacted field may need beyond the room of the value it replaces.</summary>
    public const int RedactedLength = 12;

    /// <summary>Writes the content of a stored string that holds escapes, each re-escaped as the writer escapes its character.</summary>
    private static void Unescape(ReadOnlySpan<byte> content, Span<byte> into, ref int at)
    {
        while (true)
        {
            var slash = content.IndexOf((byte)'\\');
            if (slash < 0)
            {
                Text(content, into, ref at);
                return;
            }
            Text(content[..slash], into, ref at);
            if (slash + 1 >= content.Length) throw new InvalidDataException("Stored event JSON ends a string inside an escape.");
            var kind = content[slash + 1];
            content = content[(slash + 2)..];
            switch (kind)
            {
                case (byte)'"' or (byte)'\\' or (byte)'/': Ascii(kind, into, ref at); break;
                case (byte)'b': Ascii((byte)'\b', into, ref at); break;
                case (byte)'f': Ascii((byte)'\f', into, ref at); break;
                case (byte)'n': Ascii((byte)'\n', into, ref at); break;
                case (byte)'r': Ascii((byte)'\r', into, ref at); break;
                case (byte)'t': Ascii((byte)'\t', into, ref at); break;
                case (byte)'u':
                    var unit = HexUnit(ref content);
                    if (char.IsHighSurrogate((char)unit) && content.Length >= 6 && content[0] == '\\' && content[1] == 'u')
                    {
                        var rest = content[2..];
                        var low = HexUnit(ref rest);
                        if (!char.IsLowSurrogate((char)low)) throw new InvalidDataException("Stored event JSON has a lone surrogate.");
                        content = rest;
                        Unicode(new Rune((char)unit, (char)low), into, ref at);
                    }
                    else if (char.IsSurrogate((char)unit)) throw new InvalidDataException("Stored event JSON has a lone surrogate.");
                    else Unicode(new Rune(unit), into, ref at);
                    break;
                default: throw new InvalidDataException($"Stored event JSON has an unknown escape '\\{(char)kind}'.");
            }
        }
    }

    private static int HexUnit(ref ReadOnlySpan<byte> content)
    {
        if (content.Length < 4) throw new InvalidDataException("Stored event JSON has a short \\u escape.");
        var unit = 0;
        for (var i = 0; i < 4; i++)
        {
            var digit = content[i] switch
            {
                >= (byte)'0' and <= (byte)'9' and var d => d - '0',
                >= (byte)'a' and <= (byte)'f' and var d => d - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' and var d => d - 'A' + 10,
                _ => throw new InvalidDataException("Stored event JSON has a \\u escape that is not hex."),
            };
            unit = unit * 16 + digit;
        }
        content = content[4..];
        return unit;
    }

    /// <summary>The index just past the string whose opening quote is at <paramref name="open"/>, and whether it holds escapes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int StringEnd(ReadOnlySpan<byte> json, int open, out bool escaped)
    {
        escaped = false;
        for (var i = open + 1; i < json.Length; i++)
        {
            var b = json[i];
            if (b == '"') return i + 1;
            if (b == '\\')
            {
                escaped = true;
                i++; // an escape: its second byte is never the closing quote
            }
        }
        throw new InvalidDataException("Stored event JSON ends inside a string.");
    }

    private static int SkipSpace(ReadOnlySpan<byte> json, int i)
    {
        while (i < json.Length && json[i] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t') i++;
        return i;
    }

    /// <summary>The index just past the value that starts at or after <paramref name="i"/>, whatever it holds.</summary>
    private static int SkipValue(ReadOnlySpan<byte> json, int i)
    {
        i = SkipSpace(json, i);
        if (i >= json.Length) throw new InvalidDataException("Stored event JSON ends where a value belongs.");
        if (json[i] == '"') return StringEnd(json, i, out _);
        if (json[i] is not ((byte)'{' or (byte)'['))
        {
            while (i < json.Length && !Ends(json[i])) i++;
            return i;
        }
        var depth = 0;
        while (i < json.Length)
        {
            switch (json[i])
            {
                case (byte)'"': i = StringEnd(json, i, out _); continue;
                case (byte)'{' or (byte)'[': depth++; break;
                case (byte)'}' or (byte)']':
                    if (--depth == 0) return i + 1;
                    break;
            }
            i++;
        }
        throw new InvalidDataException("Stored event JSON ends inside an object or array.");
    }

    private static bool Ends(byte b) =>
        b is (byte)',' or (byte)'}' or (byte)']' or (byte)':' or (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t';
}
