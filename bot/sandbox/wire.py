"""The API's wire shapes the sandbox answers with: JSON errors, 422 validation details,
the key check, and reading a JSON body."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable
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


# What the sandbox writes at a time while streaming.
_CHUNK = 16 * 1024


async def send_audio(
    request: web.Request,
    parts: list[bytes],
    headers: dict[str, str],
    first_byte: Callable[[], None],
    cut: float | None,
    pace: float | None = None,
) -> web.StreamResponse:
    """Stream the audio as the API does (chunked), spread over `pace` seconds, or cut after
    fraction `cut` by dropping the connection; `first_byte()` once the first bytes are out."""
    response = web.StreamResponse(status=200, headers=headers)
    response.enable_chunked_encoding()
    await response.prepare(request)
    total = sum(len(part) for part in parts)
    limit = total if cut is None else int(total * min(max(cut, 0.0), 1.0))
    sent = 0
    began = time.monotonic()
    for part in parts:
        view = memoryview(part)[: max(0, limit - sent)]
        for start in range(0, len(view), _CHUNK):
            await response.write(view[start : start + _CHUNK])
            first_byte()
            if pace is not None and total:
                # Keep to the pace: this many bytes are due by now, no sooner.
                due = began + pace * (sent + start + _CHUNK) / total
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        sent += len(view)
    if cut is not None:
        # Drop the connection without the closing chunk: the client sees a broken stream.
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
