"""Characters in member and API text: line breaks made plain, control characters found or removed.

Text reaches the bot from members (prompts, forms, plan files) and from the API (suggestions,
titles, lyrics). Unicode has many line breaks besides `\\n`, and each one is a real line break
when Discord renders the text; control characters are invisible and mean nothing to the API.
"""

from __future__ import annotations

import re
import unicodedata

# Every character Python's str.splitlines() breaks on (CR, VT, FF, FS, GS, RS, NEL, LS, PS).
_LINE_BREAK = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# C0 and C1 controls and DEL, except tab, newline and the line breaks above.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f]")
# Bidirectional overrides and isolates: they reorder what follows them when displayed.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")


def plain_line_breaks(text: str) -> str:
    """Every kind of line break as `\\n`."""
    return _LINE_BREAK.sub("\n", text)


def control_character(text: str) -> str | None:
    """The first control character in `text` (line breaks and tabs are not), or None."""
    found = _CONTROL.search(text)
    return found.group() if found else None


def describe_character(character: str) -> str:
    """`U+0007 (BELL)`: how to name an invisible character to a member."""
    name = unicodedata.name(character, "") or _C0_NAMES.get(ord(character), "control")
    return f"U+{ord(character):04X} ({name})"


def displayable(text: str) -> str:
    """`text` with plain line breaks and without control or reordering characters."""
    return _BIDI.sub("", _CONTROL.sub("", plain_line_breaks(text)))


_C0_NAMES = {0: "NULL", 7: "BELL", 8: "BACKSPACE", 0x1B: "ESCAPE", 0x7F: "DELETE"}
