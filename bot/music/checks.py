"""What the bot checks of the API's audio before it is delivered (MP3, and about the asked
length), and reading the stems out of the API's ZIP."""

from __future__ import annotations

import zipfile
from pathlib import PurePosixPath

from .audio import AudioSpool
from .errors import StreamBroken, UnplayableAudio
from .models import STEM_NAMES, ComposeRequest, Stem, StemVariation

# How far a track's length may be from the asked length (or 15 % of it, if more).
AUDIO_LENGTH_TOLERANCE_S = 1.5


async def check_audio(spool: AudioSpool, request: ComposeRequest, output_format: str) -> None:
    """Refuse MP3 that is not MP3, or far from the asked length (a proxy's error page, a cut
    file): better a clear error than a broken track uploaded and charged."""
    if not output_format.startswith("mp3_") and output_format != "auto":
        return
    seconds = await spool.mp3_seconds()
    if seconds is None:
        raise UnplayableAudio("the music service's answer is not MP3 audio")
    check_length(seconds, request.expected_duration_ms)


def read_stems(spool: AudioSpool, variation: StemVariation) -> list[Stem]:
    """The stems in the API's ZIP, in the variation's order (any others after)."""
    order = STEM_NAMES[variation]
    try:
        with zipfile.ZipFile(spool.fileobj()) as archive:
            stems = [
                Stem(PurePosixPath(info.filename).stem, archive.read(info))
                for info in archive.infolist()
                if not info.is_dir() and info.filename.lower().endswith(".mp3")
            ]
    except (zipfile.BadZipFile, OSError) as exc:
        raise StreamBroken(f"the stems could not be read ({exc})") from None
    if not stems:
        raise StreamBroken("the answer held no stems")
    rank = {name: n for n, name in enumerate(order)}
    return sorted(stems, key=lambda stem: rank.get(stem.name, len(order)))


def length_is_off(seconds: float, expected_ms: int) -> bool:
    """Whether audio of `seconds` is too far from the `expected_ms` asked for to be it."""
    expected = expected_ms / 1000
    return abs(seconds - expected) > max(AUDIO_LENGTH_TOLERANCE_S, 0.15 * expected)


def check_length(seconds: float, expected_ms: int | None) -> None:
    """UnplayableAudio when the audio is far from the asked length (a cut or padded file)."""
    if expected_ms is not None and length_is_off(seconds, expected_ms):
        raise UnplayableAudio(
            f"the music service's audio lasts {seconds:.1f} s; "
            f"{expected_ms / 1000:.0f} s were asked for"
        )
