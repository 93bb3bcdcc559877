"""Every way a music request can fail, as one exception tree.

`error_from_response` is the single place where an HTTP answer becomes an exception. It reads
the body before the status, because the API's copyright refusal has come back as 400 and as 422.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic


class MusicError(Exception):
    """Base of every music API failure. `message` is safe to log; it never holds the key."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r})"


class InvalidInput(MusicError, ValueError):
    """The request was refused locally, before anything was sent."""

    @classmethod
    def from_validation(cls, exc: pydantic.ValidationError) -> InvalidInput:
        problems = []
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        return cls("; ".join(problems))


class PromptRejected(MusicError):
    """The API refused the prompt or plan's content (copyright or harmful material)."""


class BadPrompt(PromptRejected):
    """Copyrighted material in the prompt; the API offers a rewritten prompt."""

    def __init__(self, message: str, *, prompt_suggestion: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.prompt_suggestion = prompt_suggestion


class BadCompositionPlan(PromptRejected):
    """Copyrighted material in the plan; the API offers a rewritten plan."""

    def __init__(self, message: str, *, plan_suggestion: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.plan_suggestion = plan_suggestion


class HarmfulContent(PromptRejected):
    """Refused as harmful: no suggestion is ever offered."""


class Unauthorized(MusicError):
    """The API key is missing, wrong, or lacks the music permission."""


class PaymentRequired(MusicError):
    """The account's plan does not include this (the music API needs a paid plan)."""


class QuotaExceeded(MusicError):
    """The account has run out of credits."""


class RateLimited(MusicError):
    """Too many requests, or too many at once; safe to retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Busy(RateLimited):
    """The service is overloaded (429 system_busy, 503); safe to retry later."""


class InvalidRequest(MusicError):
    """The API refused the request as malformed (422 and other 4xx)."""

    def __init__(self, message: str, *, detail: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.detail = detail


class ServerError(MusicError):
    """The API failed (5xx)."""


class TransportError(MusicError):
    """No usable answer: the connection failed or timed out."""


class StreamBroken(MusicError):
    """The audio stopped before the end; what arrived has been discarded."""


class UnplayableAudio(MusicError):
    """A successful answer whose audio is not what was asked for (not MP3, or far too short)."""


_PAYMENT_CODES = {"payment_required", "paid_plan_required", "subscription_required"}
_QUOTA_CODES = {"quota_exceeded", "insufficient_credits", "credits_exceeded"}
_BUSY_CODES = {"system_busy", "service_unavailable", "overloaded"}


def _detail_fields(body: Any) -> tuple[Any, set[str], str | None, str | None]:
    """The `detail` object, its code names (`code` and legacy `status`), message and request id."""
    detail = body.get("detail") if isinstance(body, Mapping) else None
    if not isinstance(detail, Mapping):
        message = detail if isinstance(detail, str) else None
        return detail, set(), message, None
    codes = {str(detail[key]) for key in ("code", "status") if isinstance(detail.get(key), str)}
    message = detail.get("message")
    request_id = detail.get("request_id")
    return (
        detail,
        codes,
        message if isinstance(message, str) else None,
        request_id if isinstance(request_id, str) else None,
    )


def _plan_suggestion(data: Mapping[str, Any]) -> dict[str, Any] | None:
    suggestion = data.get("composition_plan_suggestion")
    if isinstance(suggestion, str):
        try:
            suggestion = json.loads(suggestion)
        except ValueError:
            return None
    return dict(suggestion) if isinstance(suggestion, Mapping) and suggestion else None


def _summarise_validation(detail: Any) -> str:
    if isinstance(detail, list):
        parts = []
        for item in detail[:5]:
            if isinstance(item, Mapping):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                msg = str(item.get("msg", "invalid"))
                parts.append(f"{loc}: {msg}" if loc else msg)
        if parts:
            return "; ".join(parts)
    if isinstance(detail, str):
        return detail
    return "the request was not valid"


def error_from_response(
    status: int,
    body: Any,
    *,
    retry_after: float | None = None,
    header_request_id: str | None = None,
) -> MusicError:
    """Map one non-2xx answer (status and parsed JSON body, or text) to its exception."""
    detail, codes, message, request_id = _detail_fields(body)
    common: dict[str, Any] = {
        "status_code": status,
        "code": next(iter(sorted(codes)), None),
        "request_id": request_id or header_request_id,
    }

    if codes & {"bad_prompt", "bad_composition_plan"}:
        data = detail.get("data") if isinstance(detail, Mapping) else None
        data = data if isinstance(data, Mapping) else {}
        if "bad_prompt" in codes:
            suggestion = data.get("prompt_suggestion")
            if isinstance(suggestion, str) and suggestion.strip():
                return BadPrompt(
                    message or "the prompt mentions copyrighted material",
                    prompt_suggestion=suggestion.strip(),
                    **common,
                )
        else:
            plan = _plan_suggestion(data)
            if plan is not None:
                return BadCompositionPlan(
                    message or "the plan mentions copyrighted material",
                    plan_suggestion=plan,
                    **common,
                )
        return HarmfulContent(message or "the request was refused as harmful", **common)

    if codes & _QUOTA_CODES:
        return QuotaExceeded(message or "the account has no credits left", **common)
    if status == 402 or codes & _PAYMENT_CODES:
        return PaymentRequired(message or "the account's plan does not include music", **common)
    if status == 401:
        return Unauthorized(message or "the API key was refused", **common)
    if status == 403:
        return PaymentRequired(message or "the account may not use this", **common)
    if status == 503 or codes & _BUSY_CODES:
        return Busy(message or "the service is busy", retry_after=retry_after, **common)
    if status == 429:
        return RateLimited(message or "too many requests", retry_after=retry_after, **common)
    if status >= 500:
        return ServerError(message or f"the music service failed (HTTP {status})", **common)
    return InvalidRequest(
        message or _summarise_validation(detail if detail is not None else body),
        detail=detail if detail is not None else body,
        **common,
    )
