from __future__ import annotations

from typing import Any

import pytest

from bot.music.errors import (
    BadCompositionPlan,
    BadPrompt,
    Busy,
    HarmfulContent,
    InvalidRequest,
    MusicError,
    PaymentRequired,
    QuotaExceeded,
    RateLimited,
    ServerError,
    Unauthorized,
    error_from_response,
)

SUGGESTION = {"detail": {"status": "bad_prompt", "data": {"prompt_suggestion": "An epic ballad"}}}


@pytest.mark.parametrize("status", [400, 422, 403])
def test_copyright_is_read_from_the_body_not_the_status(status: int) -> None:
    error = error_from_response(status, SUGGESTION)
    assert isinstance(error, BadPrompt)
    assert error.prompt_suggestion == "An epic ballad"


def test_newer_body_with_code_and_request_id() -> None:
    body = {
        "detail": {
            "type": "invalid_request",
            "code": "bad_prompt",
            "message": "nope",
            "request_id": "r1",
            "data": {"prompt_suggestion": "x"},
        }
    }
    error = error_from_response(400, body)
    assert isinstance(error, BadPrompt)
    assert (error.message, error.request_id) == ("nope", "r1")


@pytest.mark.parametrize(
    "detail",
    [
        {"status": "bad_prompt"},
        {"status": "bad_prompt", "data": {}},
        {"status": "bad_prompt", "data": {"prompt_suggestion": "  "}},
        {"status": "bad_composition_plan"},
        {"status": "bad_composition_plan", "data": {"composition_plan_suggestion": None}},
    ],
)
def test_refusal_without_suggestion_is_harmful(detail: dict[str, Any]) -> None:
    assert isinstance(error_from_response(400, {"detail": detail}), HarmfulContent)


def test_plan_suggestion_as_object_or_json_string() -> None:
    plan = {"sections": []}
    for value in (plan, '{"sections": []}'):
        body = {
            "detail": {
                "status": "bad_composition_plan",
                "data": {"composition_plan_suggestion": value},
            }
        }
        error = error_from_response(400, body)
        assert isinstance(error, BadCompositionPlan)
        assert error.plan_suggestion == plan


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, {"detail": {"status": "invalid_api_key", "message": "Invalid"}}, Unauthorized),
        (401, {"detail": {"status": "needs_authorization"}}, Unauthorized),
        (401, {"detail": {"status": "quota_exceeded"}}, QuotaExceeded),
        (400, {"detail": {"status": "quota_exceeded"}}, QuotaExceeded),
        (402, None, PaymentRequired),
        (403, {"detail": "Subscription required."}, PaymentRequired),
        (429, {"detail": {"status": "too_many_concurrent_requests"}}, RateLimited),
        (429, {"detail": {"code": "concurrent_limit_exceeded"}}, RateLimited),
        (429, {"detail": {"status": "system_busy"}}, Busy),
        (503, "upstream down", Busy),
        (500, None, ServerError),
        (502, "<html>bad gateway</html>", ServerError),
        (422, {"detail": [{"loc": ["body", "music_length_ms"], "msg": "too big"}]}, InvalidRequest),
        (422, {"detail": "Invalid type of composition_plan"}, InvalidRequest),
        (400, {"detail": {"status": "invalid_parameters", "message": "bad"}}, InvalidRequest),
    ],
)
def test_status_and_body_map_to_one_error(status: int, body: Any, kind: type[MusicError]) -> None:
    error = error_from_response(status, body, retry_after=2.0)
    assert type(error) is kind
    assert error.status_code == status


def test_validation_detail_is_summarised() -> None:
    body = {"detail": [{"loc": ["body", "music_length_ms"], "msg": "too big", "type": "x"}]}
    error = error_from_response(422, body)
    assert error.message == "music_length_ms: too big"


def test_rate_limit_keeps_retry_after() -> None:
    error = error_from_response(429, {"detail": {"status": "system_busy"}}, retry_after=3.5)
    assert isinstance(error, Busy) and error.retry_after == 3.5
