"""The waveform image members see under a track and in a jam's now-playing message."""

from __future__ import annotations

import io
import math

from PIL import Image

from bot.music.waveform import Waveform
from bot.ui.waveform import HEIGHT, IMAGE_MAX_BYTES, PLAYED, UNPLAYED, WIDTH, waveform_png


def song(seconds: int) -> Waveform:
    n = seconds * 4
    return Waveform(tuple(0.3 + 0.6 * abs(math.sin(i / 9)) * (i % 5 + 5) / 10 for i in range(n)))


def rgb_at(png: bytes, x: int, y: int) -> tuple[int, int, int, int]:
    image = Image.open(io.BytesIO(png)).convert("RGBA")
    pixel = image.getpixel((x, y))
    assert isinstance(pixel, tuple)
    return pixel  # type: ignore[return-value]


def shows(png: bytes, x: int, y: int, colour: tuple[int, int, int]) -> bool:
    """A bar of about `colour` at x (or just beside it: bars have gaps), after quantising."""
    return any(
        max(abs(a - b) for a, b in zip(rgb_at(png, x + dx, y)[:3], colour, strict=True)) <= 4
        for dx in range(4)
    )


def test_a_small_png_with_the_title_and_length() -> None:
    png = waveform_png(song(600), title="Midnight Drive " * 20, length_s=600)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT)
    assert len(png) <= IMAGE_MAX_BYTES < 200 * 1024
    # Corners are transparent (a rounded panel), the panel itself is opaque.
    assert rgb_at(png, 0, 0)[3] == 0
    assert rgb_at(png, WIDTH // 2, 8)[3] == 255


def test_the_playing_position_splits_played_from_unplayed() -> None:
    flat = Waveform((1.0,) * 40)
    png = waveform_png(flat, title="Jam", length_s=10, position_s=5)
    middle = HEIGHT * 3 // 5
    assert shows(png, WIDTH // 4, middle, PLAYED) and not shows(png, WIDTH // 4, middle, UNPLAYED)
    assert shows(png, WIDTH * 3 // 4, middle, UNPLAYED)
    assert not shows(png, WIDTH * 3 // 4, middle, PLAYED)


def test_hostile_titles_and_empty_levels_still_draw() -> None:
    png = waveform_png(Waveform(()), title="\u202e\x00🎵 ＬＯＮＧ", length_s=3)
    assert Image.open(io.BytesIO(png)).size == (WIDTH, HEIGHT)
