"""Whether the bot takes new work: shared by every service, closed once when it drains."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(eq=False)
class Intake:
    # False once the bot is shutting down: work already running may finish.
    accepting: bool = True
