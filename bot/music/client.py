"""MusicClient: the Eleven Music API over one `httpx.AsyncClient`."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pydantic
from pydantic import SecretStr

from .audio import SPOOL_MEMORY_BYTES, AudioSpool
from .checks import check_audio, read_stems
from .errors import (
    InvalidInput,
    MusicError,
    StreamBroken,
    TransportError,
    error_from_response,
)
from .models import (
    DEFAULT_MODEL,
    STEM_OUTPUT_FORMATS,
    ChunkPlan,
    ComposeRequest,
    DetailedMetadata,
    ModelId,
    MusicPrompt,
    OutputFormat,
    Stem,
    StemVariation,
    Track,
    parse_plan,
)
from .multipart import (
    MultipartError,
    TruncatedMultipart,
    boundary_from_content_type,
    read_multipart_mixed,
)
from .retry import RetryPolicy, is_retryable_error, is_retryable_transport_error, parse_retry_after
from .waveform import Waveform

log = logging.getLogger(__name__)

PUBLIC_API_URL = "https://api.elevenlabs.io"
STEM_SEPARATION_PATH = "/v1/music/stem-separation"
DEFAULT_OUTPUT_FORMAT: OutputFormat = "mp3_44100_128"
# A ten-minute song can take minutes before the first byte; connecting must not.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=300.0, write=30.0, pool=30.0)
DEFAULT_TOTAL_TIMEOUT = 900.0
# A refused plan comes back with a suggested plan, which can be as large as a plan (~500 KiB).
_ERROR_BODY_LIMIT = 2 * 1024 * 1024


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    try:
        return int(headers[name])
    except (KeyError, ValueError):
        return None


def _request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get("request-id") or headers.get("x-request-id") or headers.get("x-trace-id")


@dataclass
class StreamInfo:
    """What the API says about a stream in its headers, filled in once it answers."""

    song_id: str | None = None
    request_id: str | None = None
    cost: int | None = None


class MusicClient:
    """Compose, stream and plan music. Use it as an async context manager, or `aclose()` it."""

    def __init__(
        self,
        api_key: SecretStr | str,
        *,
        base_url: str = PUBLIC_API_URL,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        spool_memory_bytes: int = SPOOL_MEMORY_BYTES,
        max_connections: int = 64,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"xi-api-key": key, "user-agent": "eleven-music-bot/0.1"},
            timeout=timeout,
            transport=transport,
            # Each generation holds a connection for its whole length: allow as many as the
            # account may run at once, or generations queue in the pool instead of the API.
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=min(16, max_connections)
            ),
        )
        self._total_timeout = total_timeout
        self._retry = retry_policy or RetryPolicy()
        self._spool_memory = spool_memory_bytes

    def __repr__(self) -> str:
        return f"MusicClient(base_url={self.base_url!r})"

    async def __aenter__(self) -> MusicClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- public API ---------------------------------------------------------------------------

    async def compose(
        self, request: ComposeRequest, *, output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT
    ) -> Track:
        """Generate a track; the audio is spooled, never held whole in memory."""
        async with (
            self._deadline(),
            self._post("/v1/music", request.body(), output_format) as response,
        ):
            spool = AudioSpool(self._spool_memory)
            try:
                await self._download(response.aiter_bytes(), spool)
                await check_audio(spool, request, output_format)
            except BaseException:
                spool.close()
                raise
            return self._track(response, spool, request, output_format)

    async def compose_detailed(
        self,
        request: ComposeRequest,
        *,
        output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
        with_timestamps: bool = False,
        with_waveform_visual: bool = False,
    ) -> Track:
        """Generate a track with its metadata (title, genres, the plan used), and its
        waveform's levels when asked for and the API sends them."""
        body = request.body(
            with_timestamps=with_timestamps, with_waveform_visual=with_waveform_visual
        )
        async with (
            self._deadline(),
            self._post("/v1/music/detailed", body, output_format) as response,
        ):
            spool = AudioSpool(self._spool_memory)
            try:
                head = await read_multipart_mixed(
                    self._guarded(response.aiter_bytes()),
                    spool,
                    boundary=boundary_from_content_type(response.headers.get("content-type")),
                )
                await spool.finish()
                if spool.size == 0:
                    raise StreamBroken("the answer held no audio")
                await check_audio(spool, request, output_format)
                metadata = self._metadata(head.metadata_json)
            except TruncatedMultipart as exc:
                spool.close()
                raise StreamBroken(f"the audio stopped before the end: {exc}") from None
            except MultipartError as exc:
                spool.close()
                raise StreamBroken(f"the answer could not be read: {exc}") from None
            except BaseException:
                spool.close()
                raise
            track = self._track(response, spool, request, output_format)
            track.metadata = metadata.song_metadata
            track.composition_plan = metadata.composition_plan
            track.filename = head.filename
            if metadata.waveform_visual:
                track.waveform = Waveform.from_visual(metadata.waveform_visual)
            if head.audio_content_type:
                track.content_type = head.audio_content_type
            return track

    async def stream(
        self,
        request: ComposeRequest,
        *,
        output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
        info: StreamInfo | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield audio chunks as they are generated; errors surface at the first iteration.
        `info` gets the song id (and request id, cost) once the API answers."""
        body = request.body(streaming=True)
        # No overall deadline here: the consumer decides how long it listens.
        async with self._post("/v1/music/stream", body, output_format) as response:
            if info is not None:
                info.song_id = response.headers.get("song-id")
                info.request_id = _request_id(response.headers)
                info.cost = _header_int(response.headers, "character-cost")
            received = 0
            async for chunk in self._guarded(response.aiter_bytes()):
                received += len(chunk)
                yield chunk
            if received == 0:
                raise StreamBroken("the answer held no audio")

    async def create_plan(
        self,
        prompt: str,
        *,
        music_length_ms: int | None = None,
        model_id: ModelId = DEFAULT_MODEL,
        source_composition_plan: MusicPrompt | ChunkPlan | None = None,
    ) -> MusicPrompt | ChunkPlan:
        """Ask the API for a composition plan (free of credits, but rate limited)."""
        try:
            checked = ComposeRequest(prompt=prompt, music_length_ms=music_length_ms)
        except pydantic.ValidationError as exc:
            raise InvalidInput.from_validation(exc) from None
        body: dict[str, Any] = {"prompt": checked.prompt, "model_id": model_id}
        if music_length_ms is not None:
            body["music_length_ms"] = music_length_ms
        if source_composition_plan is not None:
            body["source_composition_plan"] = source_composition_plan.to_wire()
        async with self._deadline(), self._post("/v1/music/plan", body, None) as response:
            raw = await self._read_limited(response, limit=4 * 1024 * 1024)
        try:
            return parse_plan(raw)
        except pydantic.ValidationError as exc:
            raise MusicError(f"the API answered with a plan that is not valid: {exc}") from None

    async def separate_stems(
        self,
        audio: bytes,
        *,
        variation: StemVariation = "six_stems_v1",
        output_format: OutputFormat = DEFAULT_OUTPUT_FORMAT,
        filename: str = "track.mp3",
    ) -> list[Stem]:
        """Split a song into stems (`two_stems_v1`: vocals and accompaniment; `six_stems_v1`:
        vocals, drums, bass, guitar, piano, other), each an MP3 in the API's ZIP, in order."""
        if output_format not in STEM_OUTPUT_FORMATS:
            raise InvalidInput(f"stem separation does not offer {output_format}")
        form = {"stem_variation_id": variation}
        files = {"file": (filename, audio, "audio/mpeg")}
        async with (
            self._deadline(),
            self._post(STEM_SEPARATION_PATH, form, output_format, files=files) as response,
        ):
            spool = AudioSpool(self._spool_memory)
            try:
                await self._download(response.aiter_bytes(), spool)
                return await asyncio.to_thread(read_stems, spool, variation)
            finally:
                spool.close()

    # -- plumbing -----------------------------------------------------------------------------

    @asynccontextmanager
    async def _deadline(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self._total_timeout):
                yield
        except TimeoutError:
            raise TransportError(
                f"the music service took longer than {self._total_timeout:.0f} s"
            ) from None

    @asynccontextmanager
    async def _post(
        self,
        path: str,
        body: dict[str, Any],
        output_format: str | None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """Send with retries for answers that prove nothing was done; yield the 2xx response.
        With `files`, `body` goes as multipart form fields beside them."""
        params = {"output_format": output_format} if output_format else None
        content: dict[str, Any] = {"data": body, "files": files} if files else {"json": body}
        attempt = 0
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                response = await self._http.send(
                    self._http.build_request("POST", path, params=params, **content), stream=True
                )
            except httpx.TransportError as exc:
                delay = self._retry.delay(attempt) if is_retryable_transport_error(exc) else None
                log.warning(
                    "music %s failed before an answer (%s), attempt %d%s",
                    path,
                    type(exc).__name__,
                    attempt,
                    f", retrying in {delay:.1f} s" if delay is not None else "",
                )
                if delay is None:
                    raise TransportError(
                        f"could not reach the music service ({type(exc).__name__})"
                    ) from None
                await asyncio.sleep(delay)
                continue

            log.debug(
                "music %s -> %d in %.2f s (attempt %d)",
                path,
                response.status_code,
                time.monotonic() - started,
                attempt,
            )
            if response.is_success:
                try:
                    yield response
                finally:
                    await response.aclose()
                return

            error = await self._error(response)
            delay = self._retry.delay(attempt, getattr(error, "retry_after", None))
            if not is_retryable_error(error) or delay is None:
                log.info("music %s refused: %r %s", path, error, error.message)
                raise error
            log.warning("music %s busy (%r), retrying in %.1f s", path, error, delay)
            await asyncio.sleep(delay)

    async def _error(self, response: httpx.Response) -> MusicError:
        try:
            raw = await self._read_limited(response, limit=_ERROR_BODY_LIMIT)
        except StreamBroken:
            raw = b""
        finally:
            await response.aclose()
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        return error_from_response(
            response.status_code,
            body,
            retry_after=parse_retry_after(response.headers),
            header_request_id=_request_id(response.headers),
        )

    async def _read_limited(self, response: httpx.Response, *, limit: int) -> bytes:
        data = bytearray()
        async for chunk in self._guarded(response.aiter_bytes()):
            data += chunk
            if len(data) > limit:
                raise MusicError("the answer was larger than expected")
        return bytes(data)

    async def _guarded(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Turn a transport failure after the answer started into StreamBroken."""
        try:
            async for chunk in chunks:
                yield chunk
        except httpx.TransportError as exc:
            raise StreamBroken(f"the audio stopped before the end ({type(exc).__name__})") from None

    async def _download(self, chunks: AsyncIterator[bytes], spool: AudioSpool) -> None:
        async for chunk in self._guarded(chunks):
            await spool.write(chunk)
        await spool.finish()
        if spool.size == 0:
            raise StreamBroken("the answer held no audio")

    @staticmethod
    def _metadata(raw: bytes) -> DetailedMetadata:
        try:
            return DetailedMetadata.model_validate_json(raw)
        except pydantic.ValidationError:
            # The audio is what the member asked for; metadata is a bonus.
            log.warning("music metadata could not be read; delivering the audio without it")
            return DetailedMetadata()

    @staticmethod
    def _track(
        response: httpx.Response,
        spool: AudioSpool,
        request: ComposeRequest,
        output_format: str,
    ) -> Track:
        headers = response.headers
        return Track(
            audio=spool,
            content_type=headers.get("content-type", "audio/mpeg").split(";")[0],
            output_format=output_format,
            song_id=headers.get("song-id"),
            request_id=_request_id(headers),
            cost=_header_int(headers, "character-cost"),
            expected_duration_ms=request.expected_duration_ms,
        )


def build_request(
    *,
    prompt: str | None = None,
    plan: Any = None,
    length_s: float | None = None,
    model_id: ModelId = DEFAULT_MODEL,
    force_instrumental: bool | None = None,
    seed: int | None = None,
    respect_sections_durations: bool | None = None,
    store_for_inpainting: bool | None = None,
) -> ComposeRequest:
    """Build and check a request from loose inputs; raise InvalidInput before anything is sent."""
    try:
        return ComposeRequest(
            prompt=prompt,
            composition_plan=plan,
            music_length_ms=round(length_s * 1000) if length_s is not None else None,
            model_id=model_id,
            force_instrumental=force_instrumental,
            seed=seed,
            respect_sections_durations=respect_sections_durations,
            store_for_inpainting=store_for_inpainting,
        )
    except pydantic.ValidationError as exc:
        raise InvalidInput.from_validation(exc) from None
