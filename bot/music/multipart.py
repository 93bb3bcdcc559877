"""A streaming reader for the `multipart/mixed` answer of `/v1/music/detailed`.

The answer is a JSON part, then an audio part. The reader is lenient where the API is not pinned
down (LF or CRLF, boundary from the header or the first line) and strict where the official SDK
is wrong: the closing delimiter never ends up inside the audio.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .audio import AudioSpool

MAX_HEAD_BYTES = 8 * 1024 * 1024


class MultipartError(ValueError):
    """The body is not the two-part answer the API documents."""


class TruncatedMultipart(MultipartError):
    """The body ended before the closing delimiter."""


@dataclass(frozen=True, slots=True)
class MultipartHead:
    metadata_json: bytes
    audio_content_type: str | None
    filename: str | None


_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_FILENAME_RE = re.compile(rb'filename="?([^";\r\n]+)"?', re.IGNORECASE)


def boundary_from_content_type(content_type: str | None) -> str | None:
    match = _BOUNDARY_RE.search(content_type or "")
    return match.group(1).strip() if match else None


def _end_of_line(buffer: bytes, start: int) -> int | None:
    newline = buffer.find(b"\n", start)
    return None if newline < 0 else newline + 1


def _end_of_headers(buffer: bytes, start: int) -> tuple[int, int] | None:
    """(where the header block ends, where the body starts), for LF or CRLF."""
    candidates = [
        (pos, pos + len(sep))
        for sep in (b"\r\n\r\n", b"\n\n")
        if (pos := buffer.find(sep, start)) >= 0
    ]
    return min(candidates) if candidates else None


def _parse_headers(block: bytes) -> dict[str, bytes]:
    headers: dict[str, bytes] = {}
    for line in block.splitlines():
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip()
    return headers


def _strip_line_break(buffer: bytes, end: int) -> int:
    """`end` is where `--boundary` starts; the line break before it belongs to the delimiter."""
    if end > 0 and buffer[end - 1 : end] == b"\n":
        end -= 1
        if end > 0 and buffer[end - 1 : end] == b"\r":
            end -= 1
    return end


def _parse_head(buffer: bytes, boundary: str | None) -> tuple[MultipartHead, bytes, int] | None:
    """Parse up to the start of the audio; None when more bytes are needed."""
    if boundary is None:
        first_line_end = _end_of_line(buffer, 0)
        if first_line_end is None:
            return None
        first = buffer[:first_line_end].strip()
        if not first.startswith(b"--"):
            raise MultipartError("the body does not start with a multipart delimiter")
        delimiter = first
    else:
        delimiter = b"--" + boundary.encode("latin-1")

    start = buffer.find(delimiter)
    if start < 0:
        return None
    json_headers_start = _end_of_line(buffer, start)
    if json_headers_start is None:
        return None
    json_headers = _end_of_headers(buffer, json_headers_start)
    if json_headers is None:
        return None
    json_start = json_headers[1]
    second = buffer.find(b"\n" + delimiter, json_start)
    if second < 0:
        return None
    metadata = buffer[json_start : _strip_line_break(buffer, second + 1)].strip()
    audio_headers_start = _end_of_line(buffer, second + 1)
    if audio_headers_start is None:
        return None
    audio_headers = _end_of_headers(buffer, audio_headers_start)
    if audio_headers is None:
        return None
    headers = _parse_headers(buffer[audio_headers_start : audio_headers[0]])
    content_type = headers.get("content-type")
    filename_match = _FILENAME_RE.search(headers.get("content-disposition", b""))
    head = MultipartHead(
        metadata_json=metadata,
        audio_content_type=content_type.decode("latin-1") if content_type else None,
        filename=filename_match.group(1).decode("utf-8", "replace") if filename_match else None,
    )
    return head, delimiter, audio_headers[1]


async def read_multipart_mixed(
    chunks: AsyncIterator[bytes],
    spool: AudioSpool,
    *,
    boundary: str | None = None,
    max_head_bytes: int = MAX_HEAD_BYTES,
) -> MultipartHead:
    """Read the JSON part into memory and stream the audio part into `spool`."""
    buffer = b""
    parsed: tuple[MultipartHead, bytes, int] | None = None
    async for chunk in chunks:
        buffer += chunk
        parsed = _parse_head(buffer, boundary)
        if parsed is not None:
            break
        if len(buffer) > max_head_bytes:
            raise MultipartError("no audio part within the first bytes of the answer")
    if parsed is None:
        raise TruncatedMultipart("the answer ended before its audio part")

    head, delimiter, audio_start = parsed
    closing = b"\n" + delimiter
    # Hold back enough bytes that a closing delimiter split across chunks is still seen.
    hold = len(closing) + 1
    pending = buffer[audio_start:]
    finished = False
    while True:
        found = pending.find(closing)
        if found >= 0:
            await spool.write(pending[: _strip_line_break(pending, found + 1)])
            finished = True
            break
        if len(pending) > hold:
            await spool.write(pending[:-hold])
            pending = pending[-hold:]
        try:
            pending += await anext(chunks)
        except StopAsyncIteration:
            break
    if not finished:
        raise TruncatedMultipart("the answer ended before the closing delimiter")
    return head
