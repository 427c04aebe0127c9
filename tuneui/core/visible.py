"""Text from users, files and providers made safe for a terminal: its control characters turned into
visible symbols, so none of them reaches it as a command.

`ESC ] 0 ; TITLE BEL` must not retitle the terminal, nor `ESC [ 2 J` clear it. A lone surrogate (how
Python holds the bytes of a file name that are not UTF-8, or what a JSON `\\udce9` escape reads as)
is no character a terminal can take: it shows as that escape, like the line separators (a text box
would break lines there) and the bidi controls (a name could read backwards). The app shows text
through `tuneui.widgets.literal`, which adds Rich's markup safety; the CLI prints it through
`visible()` directly.
"""

from __future__ import annotations

from functools import cache

LAYOUT = "\n\t"  # control characters that are layout, not commands, where text spans lines
DELETE = 0x7F
SEPARATORS = (0x2028, 0x2029)  # line and paragraph separators: an editor would split the text there
BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))  # they reorder what follows: a name could read backwards
SURROGATES = range(0xD800, 0xE000)


def _symbol(code: int) -> str:
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control pictures: ESC shows as ␛, BEL as ␇
    if code == DELETE:
        return "␡"
    if code > 0xFF:
        return f"\\u{code:04x}"  # separators, bidi controls, lone surrogates: the escape that writes them
    return f"\\x{code:02x}"  # C1 controls (0x9B is a one-byte CSI) have no picture


_VISIBLE = {code: _symbol(code) for code in [*range(0x20), DELETE, *range(0x80, 0xA0), *SEPARATORS, *BIDI_CONTROLS, *SURROGATES]}


def visible(text: str, keep: str = LAYOUT) -> str:
    """`text` with every control character but those in `keep` replaced by a visible symbol."""
    return text.translate(_table(keep))


@cache
def _table(keep: str) -> dict[int, str]:
    return {code: symbol for code, symbol in _VISIBLE.items() if chr(code) not in keep}


def restore_controls(edited: str, original: str) -> str:
    """Undo `visible()` in text the user edited, for the control characters `original` held:
    saving an example unchanged keeps its bytes, and a typed ␛ stays a ␛ in an example without ESC."""
    for char in sorted(set(original)):
        if ord(char) in _VISIBLE:
            edited = edited.replace(_VISIBLE[ord(char)], char)
    return edited
