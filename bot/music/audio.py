"""Where a track's audio lives: in memory up to a small size, in a temporary file beyond."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from mutagen import MutagenError
from mutagen.mp3 import MP3

# A 10 s track at 128 kbps (160 KB) stays in memory; longer ones go to disk as they arrive, so
# a hundred ten-minute tracks in flight cost a hundred times this, not a gigabyte.
SPOOL_MEMORY_BYTES = 256 * 1024
_DISK_WRITE_BYTES = 64 * 1024


class AudioSpool:
    """An append-only audio buffer that never holds a whole long track in memory.

    Writes that land on disk go through a worker thread, batched, so the event loop never
    waits on the file system.
    """

    def __init__(self, max_memory: int = SPOOL_MEMORY_BYTES) -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=max_memory)  # noqa: SIM115
        self._max_memory = max_memory
        self._pending = bytearray()
        self._written = 0
        self.closed = False

    @property
    def size(self) -> int:
        return self._written + len(self._pending)

    async def write(self, data: bytes) -> None:
        if self.size + len(data) <= self._max_memory:
            self._file.write(data)
            self._written += len(data)
            return
        self._pending += data
        if len(self._pending) >= _DISK_WRITE_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._pending:
            chunk, self._pending = self._pending, bytearray()
            await asyncio.to_thread(self._file.write, chunk)
            self._written += len(chunk)

    async def finish(self) -> None:
        """Write what is pending and rewind, ready to be read."""
        await self._flush()
        await asyncio.to_thread(self._file.flush)
        self._file.seek(0)

    def fileobj(self) -> IO[bytes]:
        """The file, rewound; readers must not close it (the spool owns it)."""
        self._file.seek(0)
        return self._file

    async def read(self) -> bytes:
        return await asyncio.to_thread(self._read_all)

    def _read_all(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    async def mp3_seconds(self) -> float | None:
        """How long the audio plays as MP3, or None when it is not MP3 audio at all."""
        return await asyncio.to_thread(self._mp3_seconds)

    def _mp3_seconds(self) -> float | None:
        self._file.seek(0)
        try:
            info: Any = MP3(self._file).info  # type: ignore[no-untyped-call]
        except (MutagenError, ValueError, OSError):
            return None
        finally:
            self._file.seek(0)
        return None if info.sketchy else float(info.length)

    async def save(self, path: Path) -> None:
        await asyncio.to_thread(self._save, path)

    def _save(self, path: Path) -> None:
        self._file.seek(0)
        with path.open("wb") as out:
            shutil.copyfileobj(self._file, out)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._file.close()
