"""The API's wire shapes the sandbox answers with: JSON errors, 422 validation details,
the key check, and reading a JSON body."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pydantic
from aiohttp import web


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    data: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    detail: dict[str, Any] = {
        "type": "invalid_request" if status < 500 else "server_error",
        "code": code,
        "status": code,
        "message": message,
        "request_id": uuid.uuid4().hex,
    }
    if data is not None:
        detail["data"] = data
    return json_response(status, {"detail": detail}, headers)


def validation_error(loc: tuple[str | int, ...], message: str) -> web.Response:
    return json_response(
        422, {"detail": [{"loc": list(loc), "msg": message, "type": "value_error"}]}
    )


def validation_errors(exc: pydantic.ValidationError) -> web.Response:
    detail = [
        {
            "loc": ["body", *error["loc"]],
            "msg": str(error["msg"]).removeprefix("Value error, "),
            "type": error["type"],
        }
        for error in exc.errors(include_url=False, include_input=False)
    ]
    return json_response(422, {"detail": detail})


def authorize(request: web.Request, api_key: str) -> web.Response | None:
    given = request.headers.get("xi-api-key")
    if not given:
        return error_response(
            401,
            "needs_authorization",
            "Neither authorization header nor xi-api-key received, please provide one.",
        )
    if given != api_key:
        return error_response(401, "invalid_api_key", "Invalid API key")
    return None


async def read_body(request: web.Request) -> tuple[dict[str, Any] | None, web.Response | None]:
    try:
        body = await request.json()
    except ValueError:
        return None, validation_error(("body",), "JSON decode error")
    if not isinstance(body, dict):
        return None, validation_error(("body",), "Input should be a valid dictionary")
    return body, None
