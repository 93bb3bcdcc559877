"""Helpers that read audio the way a member's player would."""

from __future__ import annotations

import io

from mutagen.mp3 import MP3


def mp3_seconds(data: bytes) -> float:
    return float(MP3(io.BytesIO(data)).info.length)
