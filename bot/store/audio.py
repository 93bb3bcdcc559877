"""The delivered tracks' audio, kept on disk under DATA_DIR so Stems can send it to the API.

Kept as the MP3 the member received, one file per track id, for as long as the track's row
(pruned together). On disk rather than re-downloaded from Discord: attachment URLs are signed
and expire, a moderator may delete the message, and the bytes are exactly the API's.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import IO

_TRACK_ID = re.compile(r"[0-9a-f]{32}")


class TrackAudioStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, track_id: str) -> Path:
        if not _TRACK_ID.fullmatch(track_id):
            raise ValueError("not a track id")
        return self.directory / f"{track_id}.mp3"

    async def save(self, track_id: str, audio: IO[bytes]) -> None:
        """Copy the audio (from its start) to the track's file, off the event loop."""
        path = self._path(track_id)

        def copy() -> None:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            audio.seek(0)
            with partial.open("wb") as out:
                shutil.copyfileobj(audio, out)
            os.replace(partial, path)
            audio.seek(0)

        await asyncio.to_thread(copy)

    async def read(self, track_id: str) -> bytes | None:
        path = self._path(track_id)

        def load() -> bytes | None:
            try:
                return path.read_bytes()
            except FileNotFoundError:
                return None

        return await asyncio.to_thread(load)

    async def kept(self, track_id: str) -> bool:
        """Whether the track's audio is on disk."""
        return await asyncio.to_thread(self._path(track_id).is_file)

    async def forget(self, track_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(self._path(track_id).unlink)

    async def prune(self, before: float) -> int:
        """Delete files last written before `before` (a Unix time); how many went."""

        def prune() -> int:
            gone = 0
            for path in self.directory.glob("*.mp3"):
                with contextlib.suppress(FileNotFoundError):
                    if path.stat().st_mtime < before:
                        path.unlink()
                        gone += 1
            return gone

        return await asyncio.to_thread(prune) if self.directory.exists() else 0
