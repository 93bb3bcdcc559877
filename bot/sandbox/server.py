"""A local Eleven Music API: the same endpoints, bodies and errors, with real MP3 audio.

Run it with `python -m bot sandbox --port 8765`. It checks the `xi-api-key` header, validates
requests with the API's 422 shape, refuses copyrighted prompts the way the API does, and can
inject faults (see `faults.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import pydantic
from aiohttp import web

from bot.music.models import (
    LENGTH_MAX_MS,
    LENGTH_MIN_MS,
    PROMPT_MAX_CHARS,
    ComposeRequest,
    OutputFormat,
    mp3_bitrate_kbps,
    parse_plan,
)

from . import DEFAULT_API_KEY
from .faults import Fault, find_fault, has_option, strip_faults
from .names import find_references, original_prompt
from .plans import (
    plan_from_prompt,
    plan_references,
    plan_segments,
    song_metadata,
    strip_plan_faults,
)
from .render import Segment, render, waveform_visual
from .stems import Rendered, StemSeparator
from .wire import (
    authorize,
    error_response,
    json_response,
    read_body,
    send_audio,
    validation_error,
    validation_errors,
)

log = logging.getLogger(__name__)

DEFAULT_LENGTH_MS = 30_000
SERVER_DEFAULT_MODEL = "music_v1"
STEMS_PATH = "/v1/music/stem-separation"
_STORED_SONGS = 1_000
# Faults that change how a successful answer is sent, not whether it succeeds.
_SHAPING_FAULTS = ("slow", "pace", "cut", "html", "short", "no_visual")
_ERROR_PAGE = (
    b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
    b"<body><h1>502 Bad Gateway</h1><p>The upstream server did not answer.</p></body></html>\n"
)
_ACCEPTED_FORMATS = set(OutputFormat.__args__)  # type: ignore[attr-defined]


@dataclass(slots=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    body: Any
    fault: str | None
    # time.monotonic() (system-wide on Linux, so comparable with other processes' clocks)
    # when the request arrived and when its last byte was sent.
    started: float = field(default_factory=time.monotonic)
    # When the first byte of audio went out (a stream starts playing then).
    first_byte: float | None = None
    finished: float | None = None

    def sent_first_byte(self) -> None:
        if self.first_byte is None:
            self.first_byte = time.monotonic()


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


@dataclass
class Sandbox:
    """The sandbox's state: its key, how it answers copyright refusals, and what it received."""

    api_key: str = DEFAULT_API_KEY
    copyright_status: int = 400
    retry_after: float = 1.0
    # Load tests: every request of a given length gets the same audio, rendered once, so the
    # sandbox's CPU does not limit how many generations a benchmark can run at once.
    fast_render: bool = False
    # The latest requests, for tests and curious admins (bounded: the sandbox may run for days).
    requests: deque[RecordedRequest] = field(default_factory=lambda: deque(maxlen=10_000))
    # Generations under way now, and the most seen at once (checks a client's concurrency).
    in_flight: int = 0
    peak_in_flight: int = 0
    generation_started: asyncio.Event = field(default_factory=asyncio.Event)
    # The API's time to first byte: every generation waits this long before it answers.
    first_byte_delay: float = 0.0
    # Cleared, generations wait before answering until it is set again (tests order things).
    answering: asyncio.Event = field(default_factory=_set_event)
    # Songs composed with `store_for_inpainting`: song id -> length in ms (bounded, newest kept).
    stored_songs: OrderedDict[str, int] = field(default_factory=OrderedDict)
    # The songs it rendered, so stem separation can hand back their voices.
    stems: StemSeparator = field(default_factory=StemSeparator.new)
    _fault_counts: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/music", self._compose)
        app.router.add_post("/v1/music/stream", self._stream)
        app.router.add_post("/v1/music/detailed", self._detailed)
        app.router.add_post("/v1/music/plan", self._plan)
        app.router.add_post("/v1/music/stem-separation", self._stem_separation)
        app.router.add_get("/health", self._health)
        app.router.add_get("/sandbox/stats", self._stats)
        return app

    def compose_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path not in ("/v1/music/plan", STEMS_PATH)]

    # -- handlers -----------------------------------------------------------------------------

    async def _stem_separation(self, request: web.Request) -> web.Response:
        record = RecordedRequest(request.path, dict(request.query), None, None)
        self.requests.append(record)
        try:
            return await self.stems.handle(request, self.api_key)
        finally:
            record.finished = time.monotonic()

    async def _health(self, request: web.Request) -> web.Response:
        return json_response(200, {"status": "ok"})

    async def _stats(self, request: web.Request) -> web.Response:
        """What the sandbox received and when, for benchmarks (no key needed: no secrets)."""
        return json_response(
            200,
            {
                "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight,
                "requests": [
                    {
                        "path": r.path,
                        "prompt": r.body.get("prompt") if isinstance(r.body, dict) else None,
                        "fault": r.fault,
                        "started": r.started,
                        "first_byte": r.first_byte,
                        "finished": r.finished,
                    }
                    for r in self.requests
                ],
            },
        )

    async def _compose(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, shape="audio")

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, shape="audio")

    async def _detailed(self, request: web.Request) -> web.StreamResponse:
        return await self._generate(request, shape="multipart")

    async def _generate(self, request: web.Request, *, shape: str) -> web.StreamResponse:
        refused = authorize(request, self.api_key)
        if refused is not None:
            return refused
        body, refused = await read_body(request)
        if refused is not None:
            return refused
        assert body is not None
        output_format = request.query.get("output_format", "auto")
        if output_format not in _ACCEPTED_FORMATS:
            return validation_error(("query", "output_format"), "Input should be a valid format")
        if "music_prompt" in body and "composition_plan" not in body:
            body["composition_plan"] = body.pop("music_prompt")
        # Like the API, accept and ignore fields that do not change the audio.
        known = {k: v for k, v in body.items() if k in ComposeRequest.model_fields}
        # The API's own default is still music_v1 (a client must name the model it wants).
        known.setdefault("model_id", SERVER_DEFAULT_MODEL)
        try:
            compose = ComposeRequest.model_validate(known)
        except pydantic.ValidationError as exc:
            return validation_errors(exc)
        if output_format == "auto":
            output_format = "mp3_44100_128" if compose.model_id == "music_v1" else "mp3_48000_192"
        if not output_format.startswith(("mp3_", "pcm_")):
            return validation_error(
                ("query", "output_format"), "the sandbox renders mp3 and pcm formats only"
            )

        fault = self._fault(request, compose)
        record = RecordedRequest(
            request.path, dict(request.query), body, fault.name if fault else None
        )
        self.requests.append(record)
        refused = self._refusal(fault, compose, body) or self._unknown_reference(compose)
        if refused is not None:
            record.finished = time.monotonic()
            return refused
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.generation_started.set()
        try:
            return await self._render(request, compose, fault, output_format, shape, record)
        finally:
            self.in_flight -= 1
            record.finished = time.monotonic()

    async def _render(
        self,
        request: web.Request,
        compose: ComposeRequest,
        fault: Fault | None,
        output_format: str,
        shape: str,
        record: RecordedRequest,
    ) -> web.StreamResponse:
        await self.answering.wait()
        if self.first_byte_delay:
            await asyncio.sleep(self.first_byte_delay)
        if fault is not None and fault.name == "slow":
            await asyncio.sleep(fault.arg if fault.arg is not None else 2.0)

        plan = compose.composition_plan or plan_from_prompt(
            compose.prompt or "",
            compose.music_length_ms or DEFAULT_LENGTH_MS,
            compose.model_id,
            instrumental=bool(compose.force_instrumental),
        )
        # Seeded from the validated request, so defaults sent or omitted give the same song.
        canonical = json.dumps(compose.model_dump(mode="json"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).digest()
        seed = compose.seed if compose.seed is not None else int.from_bytes(digest[:4], "big")
        rate = int(output_format.split("_")[1])
        kbps = mp3_bitrate_kbps(output_format)
        segments = plan_segments(plan)
        if self.fast_render:
            segments, seed = (Segment(plan.duration_ms, ("sandbox",)),), 0
        channels = 1 if has_option("mono", *self._fault_texts(request, compose)) else 2
        audio = await asyncio.to_thread(render, segments, seed, rate, kbps, channels)
        if kbps:
            self.stems.remember(audio, Rendered(segments, seed, rate))
        content_type = "audio/mpeg" if kbps else "audio/pcm"
        song_id = digest[:10].hex()
        headers = {"song-id": song_id, "request-id": uuid.uuid4().hex}
        if compose.store_for_inpainting:
            self.stored_songs[song_id] = plan.duration_ms
            self.stored_songs.move_to_end(song_id)
            while len(self.stored_songs) > _STORED_SONGS:
                self.stored_songs.popitem(last=False)
        if fault is not None and fault.name == "html":
            audio = _ERROR_PAGE * 64
        elif fault is not None and fault.name == "short":
            audio = audio[: int(len(audio) * (fault.arg or 0.3))]
        cut = (fault.arg or 0.5) if fault is not None and fault.name == "cut" else None
        pace = (fault.arg or 2.0) if fault is not None and fault.name == "pace" else None

        if shape == "audio":
            headers["Content-Type"] = content_type
            return await send_audio(request, [audio], headers, record.sent_first_byte, cut, pace)
        boundary = uuid.uuid4().hex
        metadata: dict[str, Any] = {
            "composition_plan": plan.to_wire(),
            "song_metadata": song_metadata(compose.prompt, plan),
            "words_timestamps": None,
        }
        if record.body.get("with_waveform_visual") is True and not (
            fault is not None and fault.name == "no_visual"
        ):
            metadata["waveform_visual"] = list(
                await asyncio.to_thread(waveform_visual, segments, seed, rate)
            )
        extension = "mp3" if kbps else "pcm"
        parts = [
            (
                f"--{boundary}\r\nContent-Type: application/json\r\n\r\n"
                f"{json.dumps(metadata, ensure_ascii=False)}\r\n"
                f"--{boundary}\r\nContent-Type: {content_type}\r\n"
                f'Content-Disposition: attachment; filename="{digest[:10].hex()}.{extension}"'
                "\r\n\r\n"
            ).encode(),
            audio,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
        headers["Content-Type"] = f"multipart/mixed; boundary={boundary}"
        return await send_audio(request, parts, headers, record.sent_first_byte, cut, pace)

    async def _plan(self, request: web.Request) -> web.Response:
        refused = authorize(request, self.api_key)
        if refused is not None:
            return refused
        body, refused = await read_body(request)
        if refused is not None:
            return refused
        assert body is not None
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return validation_error(("body", "prompt"), "Field required")
        if len(prompt) > PROMPT_MAX_CHARS:
            return validation_error(
                ("body", "prompt"), f"String should have at most {PROMPT_MAX_CHARS} characters"
            )
        length = body.get("music_length_ms")
        if length is not None and (
            not isinstance(length, int) or not LENGTH_MIN_MS <= length <= LENGTH_MAX_MS
        ):
            return validation_error(
                ("body", "music_length_ms"),
                f"Input should be between {LENGTH_MIN_MS} and {LENGTH_MAX_MS}",
            )
        model_id = body.get("model_id", SERVER_DEFAULT_MODEL)
        if model_id not in ("music_v1", "music_v2", "music_v2_5"):
            return validation_error(("body", "model_id"), "Input should be a known model")
        compose = ComposeRequest(prompt=prompt, music_length_ms=length, model_id=model_id)
        fault = self._fault(request, compose)
        self.requests.append(
            RecordedRequest(request.path, dict(request.query), body, fault.name if fault else None)
        )
        refused = self._refusal(fault, compose, body)
        if refused is not None:
            return refused
        source = body.get("source_composition_plan")
        if source is not None:
            # The API adapts the given plan to the prompt; the sandbox returns it as it is.
            try:
                return json_response(200, parse_plan(source).to_wire())
            except pydantic.ValidationError as exc:
                return validation_errors(exc)
        plan = plan_from_prompt(prompt, length or DEFAULT_LENGTH_MS, model_id)
        return json_response(200, plan.to_wire())

    # -- faults and refusals ------------------------------------------------------------------

    def _fault(self, request: web.Request, compose: ComposeRequest) -> Fault | None:
        return find_fault(*self._fault_texts(request, compose))

    @staticmethod
    def _fault_texts(request: web.Request, compose: ComposeRequest) -> list[str]:
        header = request.headers.get("x-sandbox-fault", "")
        texts = [header if header.startswith("fault:") or not header else f"fault:{header}"]
        if compose.prompt:
            texts.append(compose.prompt)
        if compose.composition_plan is not None:
            texts.append(json.dumps(compose.composition_plan.to_wire()))
        return texts

    def _refusal(
        self, fault: Fault | None, compose: ComposeRequest, body: dict[str, Any]
    ) -> web.Response | None:
        if fault is not None and fault.name not in _SHAPING_FAULTS:
            if fault.times is not None:
                key = f"{fault.name}:{json.dumps(body, sort_keys=True)}"
                seen = self._fault_counts.get(key, 0)
                if seen >= fault.times:
                    return None
                self._fault_counts[key] = seen + 1
            return self._fault_response(fault, compose)
        if compose.prompt and find_references(strip_faults(compose.prompt)):
            return self._bad_prompt(compose.prompt)
        return None

    def _unknown_reference(self, compose: ComposeRequest) -> web.Response | None:
        """Inpainting can only reuse songs stored earlier, within their length."""
        for song_id, end_ms in plan_references(compose.composition_plan):
            stored = self.stored_songs.get(song_id)
            if stored is None:
                return error_response(
                    422,
                    "song_not_found",
                    f"No stored song {song_id!r}: compose it with store_for_inpainting first.",
                )
            if end_ms > stored:
                return error_response(
                    422,
                    "invalid_range",
                    f"The range ends at {end_ms} ms, after the end of song {song_id!r}.",
                )
        return None

    def _fault_response(self, fault: Fault, compose: ComposeRequest) -> web.Response:
        retry = {"Retry-After": f"{self.retry_after:g}"}
        match fault.name:
            case "bad_prompt":
                return self._bad_prompt(compose.prompt or "an original song")
            case "bad_plan":
                source = compose.composition_plan or plan_from_prompt(
                    compose.prompt or "",
                    compose.music_length_ms or DEFAULT_LENGTH_MS,
                    compose.model_id,
                )
                suggestion = strip_plan_faults(source.to_wire())
                return error_response(
                    self.copyright_status,
                    "bad_composition_plan",
                    "The composition plan contains copyrighted material.",
                    data={"composition_plan_suggestion": suggestion},
                )
            case "harmful":
                code = "bad_composition_plan" if compose.composition_plan else "bad_prompt"
                return error_response(
                    self.copyright_status, code, "The request contains harmful material."
                )
            case "unauthorized":
                return error_response(401, "invalid_api_key", "Invalid API key")
            case "payment":
                return error_response(402, "payment_required", "The music API needs a paid plan.")
            case "quota":
                return error_response(
                    401, "quota_exceeded", "You have insufficient quota to complete this request"
                )
            case "rate_limit":
                return error_response(
                    429,
                    "too_many_concurrent_requests",
                    "Too many concurrent requests. Your current subscription is associated with "
                    "a maximum of 2 concurrent requests (running in parallel).",
                    headers=retry,
                )
            case "busy":
                return error_response(
                    429, "system_busy", "The system is busy, try again.", headers=retry
                )
            case "unavailable":
                return error_response(
                    503, "service_unavailable", "Service unavailable", headers=retry
                )
            case "invalid":
                return validation_error(("body", "prompt"), "Input was rejected by the sandbox")
            case _:
                return error_response(500, "internal_error", "An internal error occurred.")

    def _bad_prompt(self, prompt: str) -> web.Response:
        suggestion = original_prompt(" ".join(strip_faults(prompt).split()))
        return error_response(
            self.copyright_status,
            "bad_prompt",
            "The prompt contains copyrighted material.",
            data={"prompt_suggestion": suggestion},
        )


async def serve(
    sandbox: Sandbox, host: str = "127.0.0.1", port: int = 8765
) -> tuple[web.AppRunner, str]:
    """Start the sandbox; returns the runner (to `cleanup()`) and its base URL."""
    # A slow generation whose client went away must not hold up stopping for long.
    runner = web.AppRunner(sandbox.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner, f"http://{host}:{bound_port(runner, port)}"


def bound_port(runner: web.AppRunner, requested: int) -> int:
    """The port actually bound (the OS picks one when `requested` is 0)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return requested
