"""What a finished track becomes on Discord: an MP3 that fits the upload limit, its file name,
and how many bytes of tracks may upload at once."""

from __future__ import annotations

import asyncio
import contextlib
import re
import unicodedata
from collections.abc import AsyncIterator

from bot.music.models import OutputFormat

# Best first. 192 kbps needs a higher ElevenLabs tier, so 128 (the API's own default) leads.
MP3_CHOICES: tuple[tuple[OutputFormat, int], ...] = (
    ("mp3_44100_128", 128),
    ("mp3_44100_96", 96),
    ("mp3_44100_64", 64),
)
# Bytes of tracks uploading to Discord at once: three ten-minute tracks, or every short
# track of a jam (see UploadBudget).
UPLOAD_BUDGET_BYTES = 32 * 1024 * 1024
_CONTAINER_BYTES = 16 * 1024
# Room kept beside the MP3 for the track's waveform image (a PNG of a few KiB, capped here).
IMAGE_ROOM = 64 * 1024


def estimated_mp3_bytes(seconds: float, kbps: int) -> int:
    """CBR size with a margin for frame padding and tags."""
    return int(seconds * kbps * 1000 / 8 * 1.02) + _CONTAINER_BYTES


def pick_output_format(seconds: float, limit_bytes: int) -> OutputFormat | None:
    """The best MP3 format whose file for `seconds` fits `limit_bytes` beside the waveform
    image, or None."""
    for output_format, kbps in MP3_CHOICES:
        if estimated_mp3_bytes(seconds, kbps) + IMAGE_ROOM <= limit_bytes:
            return output_format
    return None


def longest_fitting_seconds(limit_bytes: int) -> int:
    """The longest track (whole seconds) that fits at the lowest bitrate offered."""
    _, kbps = MP3_CHOICES[-1]
    room = limit_bytes - _CONTAINER_BYTES - IMAGE_ROOM
    return max(0, int(room / (kbps * 1000 / 8 * 1.02)))


def track_filename(title: str | None, prompt: str) -> str:
    """A safe file name from the title, or the prompt: `[a-z0-9-]` plus `.mp3`."""
    for source in (title, prompt):
        if not source:
            continue
        ascii_text = unicodedata.normalize("NFKD", source).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
        if slug:
            return f"{slug}.mp3"
    return "track.mp3"


class UploadBudget:
    """At most `limit` bytes of tracks uploading at once.

    When a whole jam finishes together, every upload's buffers would be held at the same
    moment. Counting bytes, not uploads, lets a hundred short tracks go at once while only a
    few ten-minute ones do; a track larger than the budget waits for all of it.
    """

    def __init__(self, limit: int = UPLOAD_BUDGET_BYTES) -> None:
        self.limit = limit
        self._used = 0
        self._changed = asyncio.Condition()

    @contextlib.asynccontextmanager
    async def hold(self, size: int) -> AsyncIterator[None]:
        size = min(size, self.limit)
        async with self._changed:
            await self._changed.wait_for(lambda: self._used + size <= self.limit)
            self._used += size
        try:
            yield
        finally:
            async with self._changed:
                self._used -= size
                self._changed.notify_all()
