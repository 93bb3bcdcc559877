"""The current model (music_v2_5) by default: chunk plans, end to end through the fake Discord."""

from __future__ import annotations

import json

import pytest

from bot.app import MusicBot
from bot.music.models import LINE_MAX_CHARS, MAX_LINES
from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, ephemeral_reply, finished
from tests.e2e.test_plans import (
    make_plan,
    open_section_form,
    ready_message,
    section_fields,
    tracks_used,
)
from tests.fakes.discord_server import ALICE, GUILD_ID, FakeDiscord


def labels(message: dict[str, object]) -> list[str]:
    return [
        c["label"]
        for row in message["components"]  # type: ignore[attr-defined]
        for c in row["components"]
        if "label" in c
    ]


async def test_the_default_model_plans_chunks_and_each_chunk_is_edited_without_losing_a_line(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    message = await make_plan(discord_fake, "lofi piano night", 60)
    (asked,) = [r for r in sandbox.sandbox.requests if r.path == "/v1/music/plan"]
    assert asked.body["model_id"] == "music_v2_5"
    (listed,) = await bot.services.plan_store.recent(GUILD_ID, ALICE.id)
    stored = await bot.services.plan_store.get(listed.id)
    assert stored is not None and "chunks" in json.loads(stored.plan_json)
    assert [f["name"] for f in section_fields(message)] == ["1. Intro · 0:30", "2. Verse · 0:30"]
    assert "Edit global styles…" not in labels(message), "chunk plans have no global styles"

    # Lyrics of full-length lines, as many as one form field holds (4000 characters).
    lines = [(f"{n:02d} " + "la " * 70)[:LINE_MAX_CHARS] for n in range(MAX_LINES)][:19]
    chosen = await open_section_form(discord_fake, message, "1")
    assert chosen.modal is not None and "Verse" in json.dumps(chosen.modal)
    await discord_fake.submit(
        ALICE,
        chosen,
        {
            "name": "Big Chorus",
            "duration": "20",
            "styles": "warm piano, soft drums",
            "avoid": "distortion",
            "lyrics": "\n".join(lines),
        },
    )
    await discord_fake.wait_for(
        lambda: (
            section_fields(discord_fake.messages[int(message["id"])])[1]["name"]
            == "2. Big Chorus · 0:20"
        )
    )
    updated = discord_fake.messages[int(message["id"])]
    # A second edit (the name only) keeps every line.
    second = await open_section_form(discord_fake, updated, "1")
    submitted = await discord_fake.submit(ALICE, second, {"name": "Last Chorus"})
    # The form is answered once the edit is saved.
    await discord_fake.wait_for(lambda: submitted.acknowledged)
    plan = await bot.services.plan_store.get(listed.id)
    assert plan is not None
    edited = json.loads(plan.plan_json)["chunks"][1]
    assert edited["text"] == "\n".join(["[Last Chorus]", *lines])
    assert edited["duration_ms"] == 20_000
    assert edited["positive_styles"] == ["warm piano", "soft drums"]
    assert edited["negative_styles"] == ["distortion"]

    compose = await discord_fake.click(
        ALICE, updated, discord_fake.custom_id(updated, "music:plan:compose:")
    )
    track = await ready_message(discord_fake, compose)
    (audio,) = attachments_of(discord_fake, track)
    assert mp3_seconds(audio) == pytest.approx(50.0, abs=0.2)
    sent = sandbox.sandbox.compose_requests()[-1].body
    assert sent["model_id"] == "music_v2_5"
    assert sent["composition_plan"]["chunks"][1]["text"].endswith(lines[-1])
    assert await tracks_used(bot, ALICE) == 1


async def test_every_compose_names_the_model(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    composed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "jazz trio", "length": 4}
    )
    await finished(discord_fake, composed)
    (sent,) = sandbox.sandbox.compose_requests()
    assert sent.body["model_id"] == "music_v2_5"


async def test_a_saved_plan_of_the_other_models_shape_is_refused_with_the_reason(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    first = await start_bot(music_model_id="music_v1")
    v1_plan = await make_plan(discord_fake, "ambient bells", 9)
    await first.close()
    discord_fake.identified.clear()

    await start_bot()  # the operator moved to the default model, music_v2_5
    press = await discord_fake.click(
        ALICE, v1_plan, discord_fake.custom_id(v1_plan, "music:plan:compose:")
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, press))
    content = reply.payload["data"]["content"]
    assert "made of sections" in content and "music_v2_5" in content
    assert sandbox.sandbox.compose_requests() == []


async def test_the_sandbox_refuses_a_plan_of_the_wrong_shape_with_422(
    sandbox: RunningSandbox,
) -> None:
    import httpx

    plan = {"chunks": [{"text": "[Intro]", "duration_ms": 5000, "positive_styles": []}]}
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        answer = await http.post(
            "/v1/music",
            json={"composition_plan": plan, "model_id": "music_v1"},
            headers={"xi-api-key": "test-key"},
        )
    assert answer.status_code == 422
    assert "detail" in answer.json()


async def test_extend_and_redo_a_chunk_reuse_the_stored_song(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await start_bot(music_inpainting=True)
    first = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi piano", "length": 6}
    )
    track = await finished(discord_fake, first)
    extend = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:extend:")
    )
    extended = await ready_message(discord_fake, extend)
    (audio,) = attachments_of(discord_fake, extended)
    assert mp3_seconds(audio) == pytest.approx(36.0, abs=0.2), "6 s kept + 30 s new"
    sent = sandbox.sandbox.compose_requests()[-1].body
    assert sent["model_id"] == "music_v2_5"
    chunks = sent["composition_plan"]["chunks"]
    stored_song = next(iter(sandbox.sandbox.stored_songs))
    assert chunks[0] == {"song_id": stored_song, "range": {"start_ms": 0, "end_ms": 6000}}
    assert chunks[-1]["text"].startswith("[Extension]") and chunks[-1]["duration_ms"] == 30_000

    redo = await discord_fake.click(
        ALICE, extended, discord_fake.custom_id(extended, "music:track:redo:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(redo))
    chosen = await discord_fake.choose(
        ALICE, picker, discord_fake.custom_id(picker, "music:track:redopick:"), ["1"]
    )
    redone = await ready_message(discord_fake, chosen)
    (audio,) = attachments_of(discord_fake, redone)
    assert mp3_seconds(audio) == pytest.approx(36.0, abs=0.2)
    chunks = sandbox.sandbox.compose_requests()[-1].body["composition_plan"]["chunks"]
    assert "song_id" in chunks[0] and "text" in chunks[1]
