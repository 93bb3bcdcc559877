"""MusicClient against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket

import httpx
import pytest

from bot.music import (
    BadCompositionPlan,
    BadPrompt,
    Busy,
    ChunkPlan,
    HarmfulContent,
    InvalidInput,
    InvalidRequest,
    MusicClient,
    MusicPrompt,
    PaymentRequired,
    QuotaExceeded,
    RateLimited,
    RetryPolicy,
    ServerError,
    StreamBroken,
    TransportError,
    Unauthorized,
    build_request,
    parse_plan,
)
from bot.music import audio as audio_module
from bot.sandbox.server import Sandbox, serve
from tests.audio import mp3_seconds
from tests.conftest import FAST_RETRY, RunningSandbox

NO_RETRY = RetryPolicy(max_attempts=1)


async def test_compose_returns_mp3_of_requested_length(music: MusicClient) -> None:
    with await music.compose(build_request(prompt="lofi beat", length_s=5)) as track:
        data = await track.audio.read()
    assert track.content_type == "audio/mpeg"
    assert track.size == len(data) > 10_000
    assert track.song_id
    assert mp3_seconds(data) == pytest.approx(5.0, abs=0.1)


async def test_same_request_gives_same_audio_on_every_endpoint(music: MusicClient) -> None:
    request = build_request(prompt="jazz piano", length_s=4)
    with await music.compose(request) as plain:
        plain_bytes = await plain.audio.read()
    with await music.compose_detailed(request) as detailed:
        detailed_bytes = await detailed.audio.read()
    streamed = b"".join([chunk async for chunk in music.stream(request)])
    # The closing multipart delimiter must not end up in the audio (the official SDK's bug).
    assert detailed_bytes == plain_bytes == streamed
    assert detailed.metadata is not None and detailed.metadata.title == "Jazz Piano"
    assert detailed.metadata.genres == ["jazz"]
    assert detailed.composition_plan is not None
    assert parse_plan(detailed.composition_plan).duration_ms == 4000


async def test_compose_from_plan_lasts_the_plan_total(music: MusicClient) -> None:
    plan = parse_plan(
        {
            "positiveGlobalStyles": ["house"],
            "sections": [
                {"sectionName": "Intro", "durationMs": 3000, "lines": []},
                {"sectionName": "Drop", "durationMs": 4000, "positiveLocalStyles": ["synth"]},
            ],
        }
    )
    with await music.compose(build_request(plan=plan, model_id="music_v1")) as track:
        assert mp3_seconds(await track.audio.read()) == pytest.approx(7.0, abs=0.1)


async def test_v2_chunk_plan_and_format(music: MusicClient) -> None:
    plan = parse_plan({"chunks": [{"text": "[Verse]", "duration_ms": 3000, "positive_styles": []}]})
    request = build_request(plan=plan, model_id="music_v2")
    with await music.compose(request, output_format="mp3_22050_32") as track:
        data = await track.audio.read()
    assert mp3_seconds(data) == pytest.approx(3.0, abs=0.1)
    assert len(data) < 20_000  # 32 kbps


async def test_create_plan_v1_and_v2(music: MusicClient) -> None:
    v1 = await music.create_plan("epic rock anthem", music_length_ms=65_000, model_id="music_v1")
    assert isinstance(v1, MusicPrompt)
    assert v1.duration_ms == 65_000
    assert "rock" in v1.positive_global_styles
    v2 = await music.create_plan("ambient pads", music_length_ms=10_000, model_id="music_v2")
    assert isinstance(v2, ChunkPlan)
    assert v2.duration_ms == 10_000


async def test_large_track_spills_to_disk_not_memory(sandbox: RunningSandbox) -> None:
    async with MusicClient(
        "test-key", base_url=sandbox.url, spool_memory_bytes=64 * 1024
    ) as client:
        with await client.compose(build_request(prompt="techno", length_s=30)) as track:
            assert track.size > 64 * 1024
            # SpooledTemporaryFile rolls over to a real file past its memory limit.
            assert track.audio.fileobj().fileno() >= 0
            assert mp3_seconds(await track.audio.read()) == pytest.approx(30.0, abs=0.1)


@pytest.mark.parametrize("copyright_status", [400, 422])
async def test_bad_prompt_carries_the_suggestion(copyright_status: int) -> None:
    state = Sandbox(api_key="k", copyright_status=copyright_status)
    runner, url = await serve(state, "127.0.0.1", 0)
    try:
        async with MusicClient("k", base_url=url) as client:
            with pytest.raises(BadPrompt) as caught:
                await client.compose(build_request(prompt="a song like Taylor Swift", length_s=5))
    finally:
        await runner.cleanup()
    assert caught.value.status_code == copyright_status
    assert "taylor" not in caught.value.prompt_suggestion.lower()
    assert caught.value.prompt_suggestion.startswith("An original")


async def test_bad_plan_carries_a_valid_suggested_plan(music: MusicClient) -> None:
    plan = parse_plan(
        {
            "positive_global_styles": ["fault:bad_plan"],
            "sections": [{"section_name": "A", "duration_ms": 5000}],
        }
    )
    with pytest.raises(BadCompositionPlan) as caught:
        await music.compose_detailed(build_request(plan=plan, model_id="music_v1"))
    suggestion = parse_plan(caught.value.plan_suggestion)
    assert suggestion.duration_ms == 5000
    with await music.compose(build_request(plan=suggestion, model_id="music_v1")) as track:
        assert track.size > 0


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("harmful", HarmfulContent, 400),
        ("unauthorized", Unauthorized, 401),
        ("payment", PaymentRequired, 402),
        ("quota", QuotaExceeded, 401),
        ("server_error", ServerError, 500),
        ("invalid", InvalidRequest, 422),
    ],
)
async def test_each_refusal_maps_to_its_error(
    music: MusicClient, sandbox: RunningSandbox, fault: str, error: type[Exception], status: int
) -> None:
    with pytest.raises(error) as caught:
        await music.compose(build_request(prompt=f"song fault:{fault}", length_s=5))
    assert getattr(caught.value, "status_code", None) == status
    assert len(sandbox.sandbox.requests) == 1, "refusals that may have billed are not retried"


async def test_harmful_has_no_suggestion(music: MusicClient) -> None:
    with pytest.raises(HarmfulContent) as caught:
        await music.compose(build_request(prompt="fault:harmful", length_s=5))
    assert not hasattr(caught.value, "prompt_suggestion")


async def test_wrong_key_is_unauthorized_and_key_never_shown(sandbox: RunningSandbox) -> None:
    secret = "sk_live_do_not_leak_1234"
    async with MusicClient(secret, base_url=sandbox.url) as client:
        assert secret not in repr(client)
        with pytest.raises(Unauthorized) as caught:
            await client.compose(build_request(prompt="lofi", length_s=5))
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)


@pytest.mark.parametrize(
    ("fault", "error"), [("rate_limit", RateLimited), ("busy", Busy), ("unavailable", Busy)]
)
async def test_busy_answers_are_retried_then_reported(
    sandbox: RunningSandbox, fault: str, error: type[RateLimited]
) -> None:
    async with MusicClient("test-key", base_url=sandbox.url, retry_policy=FAST_RETRY) as client:
        with pytest.raises(error) as caught:
            await client.compose(build_request(prompt=f"lofi fault:{fault}", length_s=5))
    assert caught.value.retry_after == pytest.approx(0.05)
    assert len(sandbox.sandbox.requests) == FAST_RETRY.max_attempts


async def test_429_then_success(music: MusicClient, sandbox: RunningSandbox) -> None:
    with await music.compose(build_request(prompt="lofi fault:rate_limit:1", length_s=5)) as track:
        assert mp3_seconds(await track.audio.read()) == pytest.approx(5.0, abs=0.1)
    assert [r.fault for r in sandbox.sandbox.requests] == ["rate_limit", "rate_limit"]


async def test_cut_stream_raises_and_discards_partial_audio(
    music: MusicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    spools: list[audio_module.AudioSpool] = []
    original_init = audio_module.AudioSpool.__init__

    def tracking_init(self: audio_module.AudioSpool, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        spools.append(self)

    monkeypatch.setattr(audio_module.AudioSpool, "__init__", tracking_init)
    for method in (music.compose, music.compose_detailed):
        with pytest.raises(StreamBroken):
            await method(build_request(prompt="lofi fault:cut", length_s=20))
    assert len(spools) == 2
    assert all(spool.closed for spool in spools)


async def test_cut_stream_endpoint_raises(music: MusicClient) -> None:
    received = 0
    with pytest.raises(StreamBroken):
        async for chunk in music.stream(build_request(prompt="lofi fault:cut:0.3", length_s=20)):
            received += len(chunk)
    assert received > 0


async def test_stream_errors_surface_at_first_iteration(music: MusicClient) -> None:
    with pytest.raises(BadPrompt):
        async for _ in music.stream(build_request(prompt="fault:bad_prompt", length_s=5)):
            pytest.fail("no audio expected")


async def test_read_timeout_is_never_retried(sandbox: RunningSandbox) -> None:
    async with MusicClient(
        "test-key",
        base_url=sandbox.url,
        timeout=httpx.Timeout(5.0, read=0.2),
        retry_policy=FAST_RETRY,
    ) as client:
        with pytest.raises(TransportError):
            await client.compose(build_request(prompt="lofi fault:slow:1", length_s=5))
    assert len(sandbox.sandbox.requests) == 1


async def test_total_timeout_caps_a_generation(sandbox: RunningSandbox) -> None:
    async with MusicClient("test-key", base_url=sandbox.url, total_timeout=0.2) as client:
        with pytest.raises(TransportError, match="longer than"):
            await client.compose(build_request(prompt="lofi fault:slow:1", length_s=5))


async def test_connection_refused_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    attempts: list[httpx.Request] = []

    class CountingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            attempts.append(request)
            return await super().handle_async_request(request)

    async with MusicClient(
        "k",
        base_url=f"http://127.0.0.1:{port}",
        retry_policy=FAST_RETRY,
        transport=CountingTransport(),
    ) as client:
        with pytest.raises(TransportError, match="could not reach"):
            await client.compose(build_request(prompt="lofi", length_s=5))
    assert len(attempts) == FAST_RETRY.max_attempts
    assert all(r.headers["xi-api-key"] == "k" for r in attempts)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"prompt": "", "length_s": 5},
        {"prompt": "   ", "length_s": 5},
        {"prompt": "x" * 4101, "length_s": 5},
        {"prompt": "lofi", "length_s": 2},
        {"prompt": "lofi", "length_s": 601},
        {"prompt": "lofi", "plan": {"sections": [{"section_name": "A", "duration_ms": 5000}]}},
        {},
        {"plan": {"sections": [{"section_name": "A", "duration_ms": 2000}]}},
        {"plan": {"sections": [{"section_name": "A", "duration_ms": 5000, "lines": ["x" * 201]}]}},
        {"plan": {"sections": [{"section_name": "A", "duration_ms": 5000, "lines": ["la"] * 31}]}},
        {
            "plan": {"sections": [{"section_name": "A", "duration_ms": 5000}]},
            "model_id": "music_v2",
        },
    ],
)
async def test_bad_input_is_refused_before_sending(
    sandbox: RunningSandbox, kwargs: dict[str, object]
) -> None:
    with pytest.raises(InvalidInput):
        build_request(**kwargs)  # type: ignore[arg-type]
    assert not sandbox.sandbox.requests


async def test_inpainting_reuses_only_stored_songs(music: MusicClient) -> None:
    with await music.compose_detailed(
        build_request(prompt="lofi beat", length_s=6, store_for_inpainting=True)
    ) as stored:
        assert stored.song_id and stored.composition_plan is not None
    kept_then_new = {
        "positive_global_styles": ["lofi"],
        "negative_global_styles": [],
        "sections": [
            {
                "section_name": "Kept",
                "duration_ms": 6000,
                "lines": [],
                "source_from": {
                    "song_id": stored.song_id,
                    "range": {"start_ms": 0, "end_ms": 6000},
                },
            },
            {"section_name": "New", "duration_ms": 4000, "lines": []},
        ],
    }
    with await music.compose(build_request(plan=kept_then_new, model_id="music_v1")) as extended:
        assert mp3_seconds(await extended.audio.read()) == pytest.approx(10.0, abs=0.15)

    unknown = dict(kept_then_new)
    unknown["sections"] = [
        {
            **kept_then_new["sections"][0],
            "source_from": {"song_id": "nope", "range": {"start_ms": 0, "end_ms": 6000}},
        }
    ]
    with pytest.raises(InvalidRequest):
        await music.compose(build_request(plan=unknown, model_id="music_v1"))
    too_far = dict(kept_then_new)
    too_far["sections"] = [
        {
            **kept_then_new["sections"][0],
            "duration_ms": 9000,
            "source_from": {"song_id": stored.song_id, "range": {"start_ms": 0, "end_ms": 9000}},
        }
    ]
    with pytest.raises(InvalidRequest):
        await music.compose(build_request(plan=too_far, model_id="music_v1"))


async def test_detailed_carries_the_waveform_visual_when_asked(music: MusicClient) -> None:
    request = build_request(prompt="jazz piano", length_s=4)
    with await music.compose_detailed(request, with_waveform_visual=True) as detailed:
        assert detailed.waveform is not None
        assert detailed.waveform.seconds == pytest.approx(4.0)
        assert max(detailed.waveform.levels) > 0.1
    with await music.compose_detailed(request) as plain:
        assert plain.waveform is None, "only when asked, as the API"
