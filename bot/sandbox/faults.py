"""Fault injection for the sandbox.

A fault is chosen by the token `fault:NAME[:ARG]` anywhere in the prompt (or in any text of a
composition plan), or by the request header `X-Sandbox-Fault: NAME[:ARG]`. The token works from
Discord too, where the bot controls the headers. For `slow` ARG is seconds (default 2), for `pace`
the seconds over which the audio is spread as it is sent (default 2), for `cut` the fraction of
the audio sent before the connection drops (default 0.5), for `short` the fraction of the length
sent as a complete answer (default 0.3); for every other fault ARG is how many
identical requests fail before the next one succeeds (default: all of them).

`fault:mono` is an option, not a fault, and combines with one: the audio has one channel
instead of two (songs from the API are stereo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FAULTS = {
    "bad_prompt": "copyright refusal with a prompt suggestion",
    "bad_plan": "copyright refusal with a composition plan suggestion",
    "harmful": "harmful-content refusal (no suggestion)",
    "unauthorized": "401 invalid_api_key",
    "payment": "402 payment_required",
    "quota": "401 quota_exceeded",
    "rate_limit": "429 too_many_concurrent_requests with Retry-After",
    "busy": "429 system_busy with Retry-After",
    "server_error": "500",
    "unavailable": "503 with Retry-After",
    "invalid": "422 validation error",
    "slow": "wait ARG seconds before answering",
    "pace": "send the audio spread over ARG seconds, as a generation in progress would",
    "cut": "drop the connection after ARG of the audio",
    "html": "answer 200 as audio, but send an HTML error page instead of MP3",
    "short": "answer 200 with only ARG of the audio (default 0.3), a complete but short file",
    "no_visual": "leave `waveform_visual` out of /detailed's metadata even when asked for",
}
# Options that change the audio and combine with a fault.
OPTIONS = {"mono": "one channel of audio instead of two (the API's songs are stereo)"}

_TOKEN = re.compile(r"fault:([a-z_]+)(?::([0-9.]+))?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    arg: float | None = None

    @property
    def times(self) -> int | None:
        """How many requests fail before success (None: every one)."""
        return None if self.arg is None else int(self.arg)


def find_fault(*texts: str) -> Fault | None:
    for text in texts:
        for match in _TOKEN.finditer(text):
            name = match.group(1).lower()
            if name in FAULTS:
                return Fault(name, float(match.group(2)) if match.group(2) else None)
    return None


def has_option(name: str, *texts: str) -> bool:
    return any(match.group(1).lower() == name for text in texts for match in _TOKEN.finditer(text))


def strip_faults(text: str) -> str:
    return " ".join(_TOKEN.sub(" ", text).split())
