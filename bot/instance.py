"""Who this bot is across restarts: an id kept in its data folder, held under a lock.

A job row names the process that owns it. When that process dies, another one waits for the
job's lease to run out before declaring it interrupted, because the owner might only be slow.
A restarted bot need not wait for its own jobs: if it holds its folder's lock, no other live
process has its id, so every job of a process with that id belongs to a dead predecessor.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Instance:
    """This bot's lasting id; the lock on its folder is held while the object lives."""

    id: str
    lock: IO[str]

    def release(self) -> None:
        self.lock.close()


def claim_instance(directory: Path) -> Instance | None:
    """The folder's instance, locked for this process; None when another live process holds
    it (two bots sharing a folder) or the folder cannot be used. Blocking: call in a thread."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = (directory / "instance.lock").open("a", encoding="utf-8")
    except OSError as exc:
        log.warning("no lasting identity (%s: %s): restarts wait out job leases", directory, exc)
        return None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        log.info("another bot process uses %s: this one recovers jobs by lease only", directory)
        return None
    id_file = directory / "instance.id"
    try:
        instance_id = id_file.read_text(encoding="utf-8").strip() if id_file.exists() else ""
        if not re.fullmatch(r"[0-9a-f]{12}", instance_id):
            instance_id = uuid.uuid4().hex[:12]
            temporary = id_file.with_suffix(f".{os.getpid()}")
            temporary.write_text(instance_id + "\n", encoding="utf-8")
            temporary.replace(id_file)
    except OSError as exc:
        lock.close()
        log.warning("no lasting identity (%s: %s): restarts wait out job leases", id_file, exc)
        return None
    return Instance(instance_id, lock)
