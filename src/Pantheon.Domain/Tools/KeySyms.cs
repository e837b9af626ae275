namespace Pantheon.Domain.Tools;

/// <summary>X11 keysyms, as RFB key events carry them, for characters and key combinations such as <c>ctrl+alt+t</c>.</summary>
public static class KeySyms
{
    private static readonly Dictionary<string, uint> Named = new(StringComparer.OrdinalIgnoreCase)
    {
        ["ctrl"] = 0xffe3, ["control"] = 0xffe3, ["shift"] = 0xffe1, ["alt"] = 0xffe9, ["meta"] = 0xffe7,
        ["super"] = 0xffeb, ["win"] = 0xffeb, ["windows"] = 0xffeb, ["cmd"] = 0xffeb,
        ["enter"] = 0xff0d, ["return"] = 0xff0d, ["tab"] = 0xff09, ["esc"] = 0xff1b, ["escape"] = 0xff1b,
        ["backspace"] = 0xff08, ["delete"] = 0xffff, ["del"] = 0xffff, ["insert"] = 0xff63, ["home"] = 0xff50,
        ["end"] = 0xff57, ["pageup"] = 0xff55, ["pagedown"] = 0xff56, ["left"] = 0xff51, ["up"] = 0xff52,
        ["right"] = 0xff53, ["down"] = 0xff54, ["space"] = 0x0020, ["plus"] = 0x002b, ["menu"] = 0xff67,
        ["printscreen"] = 0xff61, ["capslock"] = 0xffe5,
    };

    /// <summary>The keysym of one character: Latin-1 as itself, control characters by name, the rest as Unicode keysyms.</summary>
    public static uint ForChar(int codePoint) => codePoint switch
    {
        '\n' or '\r' => 0xff0d,
        '\t' => 0xff09,
        '\b' => 0xff08,
        >= 0x20 and <= 0x7e or >= 0xa0 and <= 0xff => (uint)codePoint,
        _ => 0x01000000u + (uint)codePoint,
    };

    /// <summary>
    /// A combination's keysyms in pressing order (<c>ctrl+shift+t</c>, <c>alt+F4</c>, <c>Return</c>), or why it is refused.
    /// </summary>
    public static (IReadOnlyList<uint> Keys, string? Error) ParseCombination(string? combination)
    {
        if (string.IsNullOrWhiteSpace(combination)) return ([], "keys is required, such as 'ctrl+c' or 'Return'");
        var keys = new List<uint>();
        // "ctrl++" names the plus key: a trailing empty part after a '+' is that key.
        var parts = combination.Trim().EndsWith("++") ? [.. combination.Trim()[..^2].Split('+'), "+"] : combination.Trim().Split('+');
        foreach (var raw in parts)
        {
            var part = raw.Trim();
            if (part.Length == 0) return ([], $"'{combination}' has an empty key");
            if (Named.TryGetValue(part, out var named)) keys.Add(named);
            else if (part.Length > 1 && part[0] is 'f' or 'F' && int.TryParse(part[1..], out var f) && f is >= 1 and <= 24) keys.Add(0xffbe + (uint)(f - 1));
            else if (part.EnumerateRunes().Count() == 1) keys.Add(ForChar(char.IsUpper(part[0]) && keys.Count > 0 ? char.ToLowerInvariant(part[0]) : part.EnumerateRunes().First().Value));
            else return ([], $"'{part}' is not a key name (use names such as ctrl, alt, shift, super, enter, tab, esc, f1, or one character)");
        }
        if (keys.Count > 8) return ([], "at most 8 keys at once");
        return (keys, null);
    }
}
