"""Stem separation in the sandbox: `POST /v1/music/stem-separation` answers a ZIP of MP3s.

The sandbox separates the songs it rendered itself, exactly: each stem is one voice of the
render (the melody as "vocals", the bass, the kick drum), so a test can tell stems apart and
check that they add up to the song. Audio it did not render is refused with a 422.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from .render import Segment, render_layers
from .wire import authorize, error_response, validation_error

# Stems per variation, and the voices of the render each one holds.
STEMS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "two_stems_v1": (("vocals", ("lead",)), ("accompaniment", ("bass", "drums"))),
    "six_stems_v1": (
        ("vocals", ("lead",)),
        ("drums", ("drums",)),
        ("bass", ("bass",)),
        ("guitar", ()),
        ("piano", ()),
        ("other", ()),
    ),
}
# The API's AllowedOutputFormats for this endpoint: no `auto`, no mp3_48000_*; the sandbox
# renders the MP3 ones.
STEM_FORMATS = {
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
}
_REMEMBERED = 256
_MAX_UPLOAD = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Rendered:
    segments: tuple[Segment, ...]
    seed: int
    rate: int


@dataclass
class StemSeparator:
    """Remembers the songs the sandbox rendered (by their bytes) and separates them."""

    rendered: OrderedDict[str, Rendered]

    @classmethod
    def new(cls) -> StemSeparator:
        return cls(OrderedDict())

    def remember(self, audio: bytes, rendered: Rendered) -> None:
        key = hashlib.sha256(audio).hexdigest()
        self.rendered[key] = rendered
        self.rendered.move_to_end(key)
        while len(self.rendered) > _REMEMBERED:
            self.rendered.popitem(last=False)

    async def handle(self, request: web.Request, api_key: str) -> web.Response:
        refused = authorize(request, api_key)
        if refused is not None:
            return refused
        output_format = request.query.get("output_format", "mp3_44100_128")
        if output_format not in STEM_FORMATS:
            return validation_error(("query", "output_format"), "Input should be a valid format")
        if not request.content_type.startswith("multipart/form-data"):
            return validation_error(("body", "file"), "Field required")
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return validation_error(("body", "file"), "Field required")
        audio = upload.file.read(_MAX_UPLOAD + 1)
        if len(audio) > _MAX_UPLOAD:
            return error_response(413, "file_too_large", "The file is too large.")
        variation = str(form.get("stem_variation_id", "six_stems_v1"))
        if variation not in STEMS:
            return validation_error(
                ("body", "stem_variation_id"),
                "Input should be 'two_stems_v1' or 'six_stems_v1'",
            )
        song = self.rendered.get(hashlib.sha256(audio).hexdigest())
        if song is None:
            return error_response(
                422,
                "invalid_audio",
                "The sandbox separates only songs it rendered (compose one first).",
            )
        rate, kbps = int(output_format.split("_")[1]), int(output_format.split("_")[2])
        archive = await asyncio.to_thread(_zip, song, STEMS[variation], rate, kbps)
        return web.Response(
            body=archive,
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": "attachment; filename=stems.zip",
            },
        )


def _zip(
    song: Rendered, stems: tuple[tuple[str, tuple[str, ...]], ...], rate: int, kbps: int
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, layers in stems:
            audio = render_layers(song.segments, song.seed, rate, kbps, layers)
            archive.writestr(f"{name}.mp3", audio)
    return buffer.getvalue()
