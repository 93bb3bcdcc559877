"""Files members attach to a command, read with a byte cap.

An attachment's stated size comes from the member's client; the bytes come from the CDN. Read
no more than the cap, whatever either says, so a file that lies about its size costs nothing.
"""

from __future__ import annotations

import httpx

_CHUNK = 64 * 1024


class TooLarge(Exception):
    """The file holds more than the cap allows."""


async def read_capped(http: httpx.AsyncClient, url: str, limit: int) -> bytes:
    """The file at `url`, or TooLarge as soon as it passes `limit` bytes."""
    async with http.stream("GET", url) as response:
        response.raise_for_status()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise TooLarge
        data = bytearray()
        async for chunk in response.aiter_bytes(_CHUNK):
            data += chunk
            if len(data) > limit:
                raise TooLarge
    return bytes(data)
