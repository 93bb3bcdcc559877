"""How a compose ends, as the core reports it: every outcome is already settled (a track
charged once delivered, anything else refunded) when a cog receives it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.music import Track
from bot.music.models import OutputFormat, Stem
from bot.music.plans import Plan
from bot.music.waveform import Waveform
from bot.store.quotas import Reservation

from .composer import ComposeJob
from .orders import ComposeOrder
from .requester import Requester

OnceKind = Literal["suggestion", "retry", "regenerate", "extend", "stems:2", "stems:6"]


@dataclass(frozen=True, slots=True)
class Once:
    """A button that composes once (a double click composes once): its kind and row."""

    kind: OnceKind
    row_id: str


@dataclass(frozen=True, slots=True)
class Accepted:
    """The order passed every check and its quota is reserved; compose it, or abandon it."""

    requester: Requester
    order: ComposeOrder
    output_format: OutputFormat
    reservation: Reservation
    once: Once | None = None


@dataclass(frozen=True, slots=True)
class Composed:
    """A finished track, saved as a row its buttons name, waiting to be delivered."""

    job: ComposeJob
    track: Track
    order: ComposeOrder
    # The plan the API says it used, else the order's.
    plan: Plan | None
    reservation: Reservation
    # Whether Extend and Redo a section can reuse the stored song.
    editable: bool
    # The levels its waveform image shows (the API's, or measured from the audio).
    waveform: Waveform


@dataclass(frozen=True, slots=True)
class Delivered:
    track_id: str


@dataclass(frozen=True, slots=True)
class UploadRefused:
    """Composed, but Discord refused the upload: refunded."""


@dataclass(frozen=True, slots=True)
class PromptRefused:
    """The API refused the prompt for copyrighted material; its rewrite is saved."""

    suggestion_id: str
    suggestion: str
    headline: str


@dataclass(frozen=True, slots=True)
class PlanRefused:
    """The API refused a plan for copyrighted material; its suggested plan, saved, or None
    when it offered nothing usable."""

    plan_id: str | None
    plan: Plan | None


@dataclass(frozen=True, slots=True)
class Failed:
    """Anything else: `cause` is a MusicError, JamEnded, or an unexpected exception."""

    cause: BaseException


Outcome = Delivered | UploadRefused | PromptRefused | PlanRefused | Failed


@dataclass(frozen=True, slots=True)
class Separated:
    """A track's stems, waiting to be delivered (charged once they are)."""

    track_id: str
    title: str | None
    headline: str
    stems: list[Stem]
    output_format: OutputFormat


StemsOutcome = Delivered | UploadRefused | Failed
