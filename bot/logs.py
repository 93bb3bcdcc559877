"""Log lines: text or JSON, each tagged with the compose job it belongs to, secrets redacted."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

# The compose job the current task works on; set by ComposeFlow around each job.
current_job: ContextVar[str | None] = ContextVar("current_job", default=None)
LogFormat = Literal["text", "json"]


@contextlib.contextmanager
def job_context(job_id: str) -> Iterator[None]:
    token = current_job.set(job_id)
    try:
        yield
    finally:
        current_job.reset(token)


class _Context(logging.Filter):
    """Adds `job_id` to every record, and replaces any secret with *** (defence in depth: no
    code logs a secret, but a library's error message might quote one)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        record.job_id = current_job.get() or "-"
        if self._secrets:
            message = record.getMessage()
            if any(secret in message for secret in self._secrets):
                for secret in self._secrets:
                    message = message.replace(secret, "***")
                record.msg, record.args = message, ()
        return True


def setup_logging(level: str, fmt: LogFormat = "text", *, secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(job_id)s %(message)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)-7s %(name)s [job %(job_id)s]: %(message)s",
                datefmt="%H:%M:%S",
            )
        )
    handler.addFilter(_Context(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO; keep it to warnings unless debugging.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLevelName(level)))
