from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.music.audio import AudioSpool
from bot.music.multipart import (
    MultipartError,
    TruncatedMultipart,
    boundary_from_content_type,
    read_multipart_mixed,
)

AUDIO = bytes(range(256)) * 40 + b"\r\n--not-the-boundary\r\n" + b"\n\n\r\n"


def body(newline: bytes, boundary: bytes = b"b0undary", preamble: bytes = b"") -> bytes:
    n = newline
    return (
        preamble
        + b"--"
        + boundary
        + n
        + b"Content-Type: application/json"
        + n
        + n
        + b'{"song_metadata": {"title": "T"}}'
        + n
        + b"--"
        + boundary
        + n
        + b"Content-Type: audio/mpeg"
        + n
        + b'Content-Disposition: attachment; filename="song.mp3"'
        + n
        + n
        + AUDIO
        + n
        + b"--"
        + boundary
        + b"--"
        + n
    )


async def chunks_of(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read(data: bytes, size: int, boundary: str | None) -> tuple[bytes, str | None, bytes]:
    spool = AudioSpool()
    head = await read_multipart_mixed(chunks_of(data, size), spool, boundary=boundary)
    await spool.finish()
    return head.metadata_json, head.filename, await spool.read()


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
@pytest.mark.parametrize("boundary", ["b0undary", None])
@pytest.mark.parametrize("size", [1, 7, 64, 1 << 20])
async def test_audio_is_exact_whatever_the_framing(
    newline: bytes, boundary: str | None, size: int
) -> None:
    metadata, filename, audio = await read(body(newline), size, boundary)
    assert audio == AUDIO
    assert metadata == b'{"song_metadata": {"title": "T"}}'
    assert filename == "song.mp3"


async def test_preamble_is_skipped_when_the_boundary_is_known() -> None:
    _, _, audio = await read(body(b"\r\n", preamble=b"ignored\r\n"), 100, "b0undary")
    assert audio == AUDIO


async def test_missing_closing_delimiter_is_truncation() -> None:
    data = body(b"\r\n")
    with pytest.raises(TruncatedMultipart):
        await read(data[: data.rindex(b"--b0undary--")], 50, "b0undary")


async def test_body_cut_in_the_head_is_truncation() -> None:
    with pytest.raises(TruncatedMultipart):
        await read(body(b"\r\n")[:40], 10, "b0undary")


async def test_not_multipart_is_refused() -> None:
    with pytest.raises(MultipartError):
        await read(b"\xff\xfb\x90 not multipart\n" * 3, 10, None)


def test_boundary_from_header() -> None:
    assert boundary_from_content_type('multipart/mixed; boundary="abc"') == "abc"
    assert boundary_from_content_type("multipart/mixed; boundary=abc; x=y") == "abc"
    assert boundary_from_content_type("audio/mpeg") is None
