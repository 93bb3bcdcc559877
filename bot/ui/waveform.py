"""The waveform image under a track and in a jam's now-playing message: a PNG drawn with
Pillow from the levels in `bot.music.waveform`.

Readable in Discord's light and dark themes alike: a dark rounded panel (transparent corners)
carries mid-tone violet bars, light text, and, while a jam plays, grey bars for what is still
to come with a white playhead. Quantised to a small palette, it stays a few tens of KiB at
most, so it barely counts against the upload limit. Drawing is CPU work: call `waveform_png`
with `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from bot.core.formats import IMAGE_ROOM
from bot.music.waveform import Waveform

from .text import duration

WIDTH, HEIGHT = 800, 160
FILENAME = "waveform.png"
ATTACHMENT_URL = f"attachment://{FILENAME}"
# The most an image may weigh: the upload limit keeps this much room beside the MP3.
IMAGE_MAX_BYTES = IMAGE_ROOM

PANEL = (30, 31, 42)
PLAYED = (167, 139, 250)
UNPLAYED = (88, 91, 112)
PLAYHEAD = (255, 255, 255)
TITLE = (242, 243, 245)
DETAIL = (181, 186, 193)

_RADIUS = 18
_PAD = 18
_BAR, _GAP = 3, 1
_TOP, _BOTTOM = 50, HEIGHT - 14
_COLOURS = 48


def waveform_png(
    waveform: Waveform, *, title: str, length_s: float, position_s: float | None = None
) -> bytes:
    """The image: `title` and the length (or, with `position_s`, "position / length") above
    the bars; with a position, the bars played so far in colour and the rest in grey."""
    image = Image.new("RGBA", (WIDTH, HEIGHT), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, WIDTH - 1, HEIGHT - 1), radius=_RADIUS, fill=PANEL)

    detail_font = ImageFont.load_default(size=17)
    if position_s is None:
        detail = duration(length_s)
    else:
        detail = f"{duration(min(position_s, length_s))} / {duration(length_s)}"
    detail_width = draw.textlength(detail, font=detail_font)
    draw.text((WIDTH - _PAD - detail_width, 17), detail, font=detail_font, fill=DETAIL)
    title_font = ImageFont.load_default(size=20)
    room = WIDTH - 3 * _PAD - detail_width
    draw.text((_PAD, 15), _fit(_printable(title), title_font, room), font=title_font, fill=TITLE)

    count = (WIDTH - 2 * _PAD + _GAP) // (_BAR + _GAP)
    left = (WIDTH - (count * (_BAR + _GAP) - _GAP)) // 2
    middle, half = (_TOP + _BOTTOM) / 2, (_BOTTOM - _TOP) / 2
    played = count if position_s is None or length_s <= 0 else count * position_s / length_s
    for i, level in enumerate(waveform.bars(count)):
        x = left + i * (_BAR + _GAP)
        reach = max(1.0, level * half)
        colour = PLAYED if i < played else UNPLAYED
        draw.rounded_rectangle(
            (x, round(middle - reach), x + _BAR - 1, round(middle + reach)), radius=1, fill=colour
        )
    if position_s is not None and length_s > 0:
        x = left + round(min(1.0, position_s / length_s) * (count * (_BAR + _GAP) - _GAP))
        draw.rectangle((x - 1, _TOP - 4, x, _BOTTOM + 4), fill=PLAYHEAD)

    out = io.BytesIO()
    image.quantize(_COLOURS, method=Image.Quantize.FASTOCTREE).save(out, "PNG", optimize=True)
    return out.getvalue()


def _printable(title: str) -> str:
    """No control or format characters (a right-to-left override would flip the line)."""
    kept = "".join(c for c in title if not unicodedata.category(c).startswith("C"))
    return " ".join(kept.split()) or "Your track"


def _fit(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: float) -> str:
    if font.getlength(text) <= room:
        return text
    while text and font.getlength(text + "…") > room:
        text = text[:-1]
    return text.rstrip() + "…"
