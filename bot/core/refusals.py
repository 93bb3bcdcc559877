"""Why the bot will not do what a member asked: one typed reason each, rendered into a
sentence by `bot.ui.text.refusal`. Nothing was spent or changed when one is returned."""

from __future__ import annotations

from dataclasses import dataclass

from bot.store.quotas import QuotaRefused


@dataclass(frozen=True, slots=True)
class Restarting:
    """The bot is draining before a restart: no new composes."""


@dataclass(frozen=True, slots=True)
class NotInServer:
    what: str  # "compose" | "plan" | "jam"


@dataclass(frozen=True, slots=True)
class PromptAndPlan:
    """A prompt and a plan together: a plan already says what to compose."""


@dataclass(frozen=True, slots=True)
class WrongPlanShape:
    shape: str  # "chunks" | "sections"
    model_id: str


@dataclass(frozen=True, slots=True)
class EmptyPrompt:
    pass


@dataclass(frozen=True, slots=True)
class PromptTooLong:
    length: int
    limit: int


@dataclass(frozen=True, slots=True)
class ControlCharacter:
    description: str  # e.g. "U+0007 (BELL)"


@dataclass(frozen=True, slots=True)
class LengthOutOfRange:
    length_s: int
    min_s: int
    max_s: int


@dataclass(frozen=True, slots=True)
class TooLargeToUpload:
    length_s: int
    limit_bytes: int
    longest_s: int
    min_s: int


@dataclass(frozen=True, slots=True)
class OverQuota:
    refused: QuotaRefused
    length_s: int


@dataclass(frozen=True, slots=True)
class NotYours:
    """Only the owner (or a moderator) may use this."""

    what: str = "button"  # "button" | "plan"


@dataclass(frozen=True, slots=True)
class AlreadyUsed:
    """A compose-once button that already composed its track."""


@dataclass(frozen=True, slots=True)
class Gone:
    what: str  # "suggestion" | "retry" | "track" | "plan" | "plan option" | "section"


@dataclass(frozen=True, slots=True)
class AudioNotKept:
    """The track's audio is no longer kept (or it was delivered before audio was kept)."""


@dataclass(frozen=True, slots=True)
class CannotChange:
    """A change the API's limits refuse, in the words of `bot.music` (InvalidInput)."""

    message: str


@dataclass(frozen=True, slots=True)
class NotStoredForEditing:
    pass


@dataclass(frozen=True, slots=True)
class Unreadable:
    what: str  # "track plan" | "plan"


@dataclass(frozen=True, slots=True)
class NoPlanBehindTrack:
    pass


@dataclass(frozen=True, slots=True)
class SectionKept:
    pass


@dataclass(frozen=True, slots=True)
class NoGlobalStyles:
    pass


@dataclass(frozen=True, slots=True)
class PlanRateLimited:
    wait_s: float


@dataclass(frozen=True, slots=True)
class PlanSources:
    """Both a saved plan and a plan file, or a plan with length/instrumental."""

    both_plans: bool


@dataclass(frozen=True, slots=True)
class PlanFileTooLarge:
    limit_kib: int


@dataclass(frozen=True, slots=True)
class PlanFileUnreachable:
    pass


@dataclass(frozen=True, slots=True)
class PlanFileInvalid:
    detail: str


Refusal = (
    Restarting
    | NotInServer
    | PromptAndPlan
    | WrongPlanShape
    | AudioNotKept
    | EmptyPrompt
    | PromptTooLong
    | ControlCharacter
    | LengthOutOfRange
    | TooLargeToUpload
    | OverQuota
    | NotYours
    | AlreadyUsed
    | Gone
    | CannotChange
    | NotStoredForEditing
    | Unreadable
    | NoPlanBehindTrack
    | SectionKept
    | NoGlobalStyles
    | PlanRateLimited
    | PlanSources
    | PlanFileTooLarge
    | PlanFileUnreachable
    | PlanFileInvalid
)


@dataclass(frozen=True, slots=True)
class Refused:
    """The typed "no": what the member is told, with nothing spent or changed."""

    reason: Refusal
