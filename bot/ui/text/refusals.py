"""Every refusal of the core, in one sentence: nothing was spent or changed."""

from __future__ import annotations

from bot.core import refusals as r

from .escape import duration, inert
from .quota import (
    quota_refusal,
)

ONLY_REQUESTER = "Only the member who asked for this (or a moderator) can use this button."


def refusal(reason: r.Refusal) -> str:
    """What a member is told when the core refuses: one friendly sentence."""
    match reason:
        case r.Restarting():
            return "🔧 The bot is restarting. Please try again in a minute; nothing was spent."
        case r.NotInServer(what="plan"):
            return "Plans can only be made in a server channel."
        case r.NotInServer(what="jam"):
            return "Jams only work in a server."
        case r.NotInServer():
            return "Music can only be composed in a server channel."
        case r.PromptAndPlan():
            return "Give a prompt or a plan, not both: a plan already says what to compose."
        case r.WrongPlanShape(shape=shape, model_id=model_id):
            return (
                f"That plan is made of {shape}, which the model this bot uses ({model_id}) "
                "does not take. Make a new one with /music plan."
            )
        case r.EmptyPrompt():
            return "Please describe the music you want: the prompt is empty (or choose a plan)."
        case r.PromptTooLong(length=length, limit=limit):
            return f"That prompt is {length:,} characters; the limit is {limit:,}."
        case r.ControlCharacter(description=description):
            return (
                f"Your prompt contains an invisible control character, {description}. "
                "Please remove it and try again."
            )
        case r.LengthOutOfRange(length_s=length_s, min_s=low, max_s=high):
            return (
                f"The length must be between {low} and {high} seconds (you asked for {length_s})."
            )
        case r.TooLargeToUpload():
            hint = (
                f"The longest that fits is {duration(reason.longest_s)}."
                if reason.longest_s >= reason.min_s
                else "No track fits it."
            )
            return (
                f"A {duration(reason.length_s)} track would not fit the upload limit here "
                f"({reason.limit_bytes / 1024 / 1024:.1f} MiB). {hint}"
            )
        case r.OverQuota(refused=refused, length_s=length_s):
            return quota_refusal(refused, length_s)
        case r.NotYours(what="plan"):
            return "That plan belongs to someone else."
        case r.NotYours():
            return ONLY_REQUESTER
        case r.AlreadyUsed():
            return "This button has already been used."
        case r.Gone(what=what):
            return _GONE.get(what, "This is no longer kept.")
        case r.AudioNotKept():
            return "This track's audio is no longer kept, so it can't be split into stems."
        case r.CannotChange(message=message):
            return f"⚠️ {message}"
        case r.NotStoredForEditing():
            return "⚠️ This track was not stored for editing, so it can't be changed."
        case r.Unreadable(what="plan"):
            return "This plan could not be read."
        case r.Unreadable():
            return "⚠️ This track's plan could not be read."
        case r.NoPlanBehindTrack():
            return "The music service did not say how it planned this."
        case r.SectionKept():
            return "That section keeps audio from an earlier take; it can't be edited."
        case r.NoGlobalStyles():
            return "This plan's model has no global styles."
        case r.PlanRateLimited(wait_s=wait_s):
            return f"⏳ You're making plans quickly. Try again in {max(1, round(wait_s))} s."
        case r.PlanSources(both_plans=True):
            return "Choose a saved plan or attach a plan file, not both."
        case r.PlanSources():
            return "A plan sets its own length and voices; leave `length` and `instrumental` out."
        case r.PlanFileTooLarge(limit_kib=kib):
            return f"That file is more than {kib} KiB; a plan file is at most {kib} KiB of JSON."
        case r.PlanFileUnreachable():
            return "I couldn't download that file; please try again."
        case r.PlanFileInvalid(detail=detail):
            return (
                "That file is not a composition plan in the API's JSON format "
                f"(`sections` or `chunks`): {inert(detail, 300)}"
            )


_GONE = {
    "suggestion": "This suggestion is no longer available.",
    "retry": "This track can no longer be retried.",
    "track": "This track is too old for its buttons to work.",
    "plan": "This plan is no longer kept.",
    "plan option": (
        "I can't find that plan. Pick one from the list, or make one with `/music plan`."
    ),
    "section": "That section is no longer in the plan.",
}


def change_refused(reason: r.Refusal) -> str:
    """A form's change refused: the reason, and that the plan is as it was."""
    text = refusal(reason)
    return f"{text} Nothing was changed." if isinstance(reason, r.CannotChange) else text
