"""Composition plans and the buttons under tracks, end to end through the fake Discord."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.app import MusicBot
from bot.music.models import LINE_MAX_CHARS, MAX_LINES, MAX_SECTIONS, MAX_STYLES
from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import attachments_of, ephemeral_reply, finished
from tests.fakes.discord_server import (
    ALICE,
    BOB,
    GUILD_ID,
    MOD,
    FakeDiscord,
    Interaction,
    Member,
    Upload,
)


async def ready_message(fake: FakeDiscord, interaction: Interaction) -> dict[str, Any]:
    """The message a button press composed into, once it shows its outcome (a track's audio
    and embed, or a refusal's embed) rather than progress."""

    def done() -> dict[str, Any] | None:
        for message in reversed(list(fake.messages.values())):
            meta = message.get("interaction_metadata") or {}
            if meta.get("id") == str(interaction.id) and (
                message["attachments"] or message["embeds"]
            ):
                return message
        return None

    result: dict[str, Any] = await fake.wait_for(done, timeout=20)
    return result


async def tracks_used(bot: MusicBot, member: Member) -> int:
    status = await bot.services.quotas.status(GUILD_ID, member.id, member.roles)
    return status.tracks_used


async def make_plan(fake: FakeDiscord, prompt: str, length: int) -> dict[str, Any]:
    interaction = await fake.slash(ALICE, "music", "plan", {"prompt": prompt, "length": length})
    message: dict[str, Any] = await finished(fake, interaction)
    assert message["embeds"], message["content"]
    return message


def menu_options(picker: dict[str, Any]) -> dict[str, str]:
    """Section index -> the custom_id of the menu that offers it."""
    return {
        option["value"]: item["custom_id"]
        for row in picker["components"]
        for item in row["components"]
        if str(item.get("custom_id", "")).startswith("music:plan:pick:")
        for option in item["options"]
    }


async def open_section_form(fake: FakeDiscord, message: dict[str, Any], value: str) -> Interaction:
    """Press Edit section…, and pick `value` (a section's index, or `index.part` for a further
    part of a long section) from whichever menu lists it."""
    press = await fake.click(ALICE, message, fake.custom_id(message, "music:plan:section:"))
    picker = await fake.wait_for(lambda: fake.original(press))
    chosen = await fake.choose(ALICE, picker, menu_options(picker)[value], [value])
    await fake.wait_for(lambda: chosen.modal)
    return chosen


@pytest.fixture
async def bot_v1(start_bot: BotFactory) -> MusicBot:
    """The bot when the operator chooses music_v1 (MUSIC_MODEL_ID=music_v1): section plans."""
    return await start_bot(music_model_id="music_v1")


def section_fields(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in message["embeds"][0]["fields"] if f["name"][0].isdigit()]


async def test_plan_edit_a_section_then_compose_it(
    bot_v1: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    bot = bot_v1
    message = await make_plan(discord_fake, "lofi piano night", 60)
    assert [f["name"] for f in section_fields(message)] == ["1. Intro · 0:30", "2. Verse · 0:30"]
    assert "lofi" in message["embeds"][0]["description"]
    assert await tracks_used(bot, ALICE) == 0, "a plan costs no track"
    assert [r.path for r in sandbox.sandbox.requests] == ["/v1/music/plan"]

    # Someone else cannot touch it.
    stranger = await discord_fake.click(
        BOB, message, discord_fake.custom_id(message, "music:plan:section:")
    )
    refusal = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, stranger))
    assert "Only the member" in refusal.payload["data"]["content"]

    edit = await discord_fake.click(
        ALICE, message, discord_fake.custom_id(message, "music:plan:section:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(edit))
    assert picker["flags"] & 64, "the section menu is private"
    menu_id = discord_fake.custom_id(picker, "music:plan:pick:")

    chosen = await discord_fake.choose(ALICE, picker, menu_id, ["1"])
    await discord_fake.wait_for(lambda: chosen.modal)
    assert chosen.modal is not None
    assert "Verse" in json.dumps(chosen.modal)
    bad = await discord_fake.submit(ALICE, chosen, {"duration": "500"})
    error = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, bad))
    assert "3 to 120 seconds" in error.payload["data"]["content"]
    assert "Nothing was changed" in error.payload["data"]["content"]
    (listed,) = await bot.services.plan_store.recent(GUILD_ID, ALICE.id)
    stored = await bot.services.plan_store.get(listed.id)
    assert stored is not None
    assert json.loads(stored.plan_json)["sections"][1]["duration_ms"] == 30_000

    chosen = await discord_fake.choose(ALICE, picker, menu_id, ["1"])
    await discord_fake.wait_for(lambda: chosen.modal)
    good = await discord_fake.submit(
        ALICE,
        chosen,
        {
            "name": "Big Chorus",
            "duration": "45",
            "styles": "warm piano, soft drums",
            "lyrics": "We sing all night\nUnder neon light",
        },
    )
    await discord_fake.wait_for(
        lambda: (
            section_fields(discord_fake.messages[int(message["id"])])[1]["name"]
            == "2. Big Chorus · 0:45"
        )
    )
    updated = discord_fake.messages[int(message["id"])]
    assert "Under neon light" in section_fields(updated)[1]["value"]
    assert "**2 section(s) · 1:15**" in updated["embeds"][0]["description"]
    await discord_fake.wait_for(
        lambda: "updated" in discord_fake.messages[int(picker["id"])]["content"]
    )
    assert good.acknowledged

    compose = await discord_fake.click(
        ALICE, updated, discord_fake.custom_id(updated, "music:plan:compose:")
    )
    track = await ready_message(discord_fake, compose)
    (audio,) = attachments_of(discord_fake, track)
    assert mp3_seconds(audio) == pytest.approx(75.0, abs=0.2), "the plan's total"
    sent = sandbox.sandbox.compose_requests()[-1].body
    assert "prompt" not in sent and "music_length_ms" not in sent
    assert sent["composition_plan"]["sections"][1]["lines"] == [
        "We sing all night",
        "Under neon light",
    ]
    embed = track["embeds"][0]
    assert any(f["name"] == "Lyrics" and "neon" in f["value"] for f in embed["fields"])
    assert await tracks_used(bot, ALICE) == 1


async def test_global_styles_form_rejects_too_many(
    bot_v1: MusicBot, discord_fake: FakeDiscord
) -> None:
    message = await make_plan(discord_fake, "jazz trio", 20)
    press = await discord_fake.click(
        ALICE, message, discord_fake.custom_id(message, "music:plan:styles:")
    )
    await discord_fake.wait_for(lambda: press.modal)
    styles = ", ".join(f"style {n}" for n in range(MAX_STYLES + 1))
    bad = await discord_fake.submit(ALICE, press, {"styles": styles})
    error = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, bad))
    assert f"At most {MAX_STYLES}" in error.payload["data"]["content"]

    press = await discord_fake.click(
        ALICE, message, discord_fake.custom_id(message, "music:plan:styles:")
    )
    await discord_fake.wait_for(lambda: press.modal)
    await discord_fake.submit(ALICE, press, {"styles": "jazz, brushes", "avoid": "distortion"})
    await discord_fake.wait_for(
        lambda: (
            "distortion" in discord_fake.messages[int(message["id"])]["embeds"][0]["description"]
        )
    )


async def test_a_saved_plan_is_offered_and_composed_from_the_slash_command(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await make_plan(discord_fake, "ambient bells", 9)
    ask = await discord_fake.slash(ALICE, "music", "compose", {"plan": "amb"}, focused="plan")
    await discord_fake.wait_for(lambda: ask.choices is not None)
    assert ask.choices is not None and len(ask.choices) == 1
    choice = ask.choices[0]
    assert "0:09" in choice["name"]

    other = await discord_fake.slash(BOB, "music", "compose", {"plan": ""}, focused="plan")
    await discord_fake.wait_for(lambda: other.choices is not None)
    assert other.choices == [], "only the member's own plans"

    stolen = await discord_fake.slash(BOB, "music", "compose", {"plan": choice["value"]})
    refusal = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, stolen))
    assert "someone else" in refusal.payload["data"]["content"]

    both = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "rock", "plan": choice["value"]}
    )
    refusal = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, both))
    assert "not both" in refusal.payload["data"]["content"]

    compose = await discord_fake.slash(ALICE, "music", "compose", {"plan": choice["value"]})
    message = await finished(discord_fake, compose)
    (audio,) = attachments_of(discord_fake, message)
    assert mp3_seconds(audio) == pytest.approx(9.0, abs=0.2)
    assert len(sandbox.sandbox.compose_requests()) == 1


def plan_upload(plan: dict[str, Any], name: str = "plan.json") -> Upload:
    return Upload(name, json.dumps(plan).encode())


async def test_a_refused_plan_offers_the_suggested_plan(
    bot_v1: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    bot = bot_v1
    plan = {
        "positive_global_styles": ["synthwave"],
        "negative_global_styles": [],
        "sections": [
            {"section_name": "Intro fault:bad_plan", "duration_ms": 4000, "lines": []},
            {"section_name": "Drop", "duration_ms": 4000, "lines": ["Go"]},
        ],
    }
    compose = await discord_fake.slash(ALICE, "music", "compose", {"plan_file": plan_upload(plan)})
    message = await finished(discord_fake, compose)
    assert not message["attachments"]
    assert "copyrighted" in message["embeds"][0]["title"]
    assert [f["name"] for f in section_fields(message)] == ["1. Intro · 0:04", "2. Drop · 0:04"]
    button = discord_fake.custom_id(message, "music:plan:compose:")
    assert any(
        c["label"] == "Compose the suggested plan"
        for row in message["components"]
        for c in row["components"]
    )
    assert await tracks_used(bot, ALICE) == 0

    press = await discord_fake.click(ALICE, message, button)
    track = await ready_message(discord_fake, press)
    (audio,) = attachments_of(discord_fake, track)
    assert mp3_seconds(audio) == pytest.approx(8.0, abs=0.2)
    assert (
        sandbox.sandbox.compose_requests()[-1].body["composition_plan"]["sections"][0][
            "section_name"
        ]
        == "Intro"
    )
    assert await tracks_used(bot, ALICE) == 1


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not json", "not a composition plan"),
        (b'{"sections": []}', "not a composition plan"),
        (
            json.dumps(
                {"sections": [{"section_name": "A", "duration_ms": 200_000, "lines": []}]}
            ).encode(),
            "not a composition plan",
        ),
    ],
)
async def test_a_bad_plan_file_is_refused_privately(
    bot: MusicBot,
    discord_fake: FakeDiscord,
    sandbox: RunningSandbox,
    content: bytes,
    expected: str,
) -> None:
    compose = await discord_fake.slash(
        ALICE, "music", "compose", {"plan_file": Upload("plan.json", content)}
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, compose))
    assert expected in reply.payload["data"]["content"]
    assert sandbox.sandbox.compose_requests() == []
    assert await tracks_used(bot, ALICE) == 0


def biggest_plan() -> dict[str, Any]:
    """The largest plan the API accepts: 30 sections of 30 full lines, 50 long styles each."""
    styles = [f"{'style ' * 15}{n}"[:100] for n in range(MAX_STYLES)]
    return {
        "positive_global_styles": styles,
        "negative_global_styles": styles,
        "sections": [
            {
                "section_name": f"{'Section ' * 12}{n}"[:100],
                "positive_local_styles": styles,
                "negative_local_styles": styles,
                "duration_ms": 600_000 // MAX_SECTIONS,
                "lines": [f"{n}:{line} " + "la " * 70 for line in range(MAX_LINES)],
            }
            for n in range(MAX_SECTIONS)
        ],
    }


async def test_the_biggest_plan_fits_discords_limits_with_the_json_attached(
    bot_v1: MusicBot, discord_fake: FakeDiscord
) -> None:
    plan = biggest_plan()
    plan["sections"][0]["section_name"] = "fault:bad_plan"
    for section in plan["sections"]:
        section["lines"] = [line[:LINE_MAX_CHARS] for line in section["lines"]]
    compose = await discord_fake.slash(ALICE, "music", "compose", {"plan_file": plan_upload(plan)})
    message = await finished(discord_fake, compose)
    # The fake Discord refuses any embed over the limits, so reaching here means it fit.
    assert message["embeds"] and len(message["embeds"][0]["fields"]) <= 25
    (attached,) = attachments_of(discord_fake, message)
    assert len(json.loads(attached)["sections"]) == MAX_SECTIONS
    assert "plan.json" in message["embeds"][0]["footer"]["text"]


async def test_regenerate_and_extend_make_new_tracks_and_charge_quota(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    bot = await start_bot(music_inpainting=True, music_model_id="music_v1")
    first = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi piano", "length": 6}
    )
    track = await finished(discord_fake, first)
    assert await tracks_used(bot, ALICE) == 1
    song_id = sandbox.sandbox.compose_requests()[-1]
    assert song_id.body["store_for_inpainting"] is True

    refused = await discord_fake.click(
        BOB, track, discord_fake.custom_id(track, "music:track:again:")
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, refused))
    assert "Only the member" in reply.payload["data"]["content"]
    assert len(sandbox.sandbox.compose_requests()) == 1

    again = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:again:")
    )
    regenerated = await ready_message(discord_fake, again)
    (audio,) = attachments_of(discord_fake, regenerated)
    assert mp3_seconds(audio) == pytest.approx(6.0, abs=0.2)
    assert sandbox.sandbox.compose_requests()[-1].body["prompt"] == "lofi piano"
    assert await tracks_used(bot, ALICE) == 2

    extend = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:extend:")
    )
    extended = await ready_message(discord_fake, extend)
    (audio,) = attachments_of(discord_fake, extended)
    assert mp3_seconds(audio) == pytest.approx(36.0, abs=0.2), "6 s kept + 30 s new"
    sections = sandbox.sandbox.compose_requests()[-1].body["composition_plan"]["sections"]
    stored_song = next(iter(sandbox.sandbox.stored_songs))
    assert sections[0]["source_from"] == {
        "song_id": stored_song,
        "range": {"start_ms": 0, "end_ms": 6000},
    }
    assert sections[-1]["section_name"] == "Extension" and "source_from" not in sections[-1]
    assert await tracks_used(bot, ALICE) == 3

    # A moderator may redo a section of Alice's track; it is charged to the moderator.
    redo = await discord_fake.click(
        MOD, extended, discord_fake.custom_id(extended, "music:track:redo:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(redo))
    chosen = await discord_fake.choose(
        MOD, picker, discord_fake.custom_id(picker, "music:track:redopick:"), ["1"]
    )
    redone = await ready_message(discord_fake, chosen)
    (audio,) = attachments_of(discord_fake, redone)
    assert mp3_seconds(audio) == pytest.approx(36.0, abs=0.2)
    sections = sandbox.sandbox.compose_requests()[-1].body["composition_plan"]["sections"]
    assert "source_from" in sections[0] and "source_from" not in sections[1]
    assert await tracks_used(bot, MOD) == 1 and await tracks_used(bot, ALICE) == 3


async def test_show_plan_is_private_and_edit_and_compose_copies_it(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    first = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "pop song", "length": 40}
    )
    track = await finished(discord_fake, first)
    buttons = [c["label"] for row in track["components"] for c in row["components"]]
    assert buttons == ["Regenerate", "Show plan", "Stems", "Delete"], (
        "no inpainting: no Extend or Redo"
    )

    show = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:plan:")
    )
    shown = await discord_fake.wait_for(lambda: discord_fake.original(show))
    assert shown["flags"] & 64
    assert [f["name"] for f in section_fields(shown)] == ["1. Intro · 0:20", "2. Verse · 0:20"]

    edit = await discord_fake.click(
        ALICE, shown, discord_fake.custom_id(shown, "music:track:edit:")
    )
    editor = await discord_fake.wait_for(lambda: discord_fake.original(edit))
    assert not editor["flags"] & 64, "the editable copy is posted for the jam to see"
    (copy,) = await bot.services.plan_store.recent(GUILD_ID, ALICE.id)
    assert copy.origin == "track"

    # Editing the copy redraws the posted editor.
    chosen = await open_section_form(discord_fake, editor, "0")
    await discord_fake.submit(ALICE, chosen, {"name": "Cold Open"})
    await discord_fake.wait_for(
        lambda: (
            section_fields(discord_fake.messages[int(editor["id"])])[0]["name"]
            == "1. Cold Open · 0:20"
        )
    )


async def test_plans_are_rate_limited_per_member(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    await start_bot(plans_per_minute=1)
    await make_plan(discord_fake, "chill", 10)
    again = await discord_fake.slash(ALICE, "music", "plan", {"prompt": "chill", "length": 10})
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, again))
    assert "quickly" in reply.payload["data"]["content"]
    assert len([r for r in sandbox.sandbox.requests if r.path == "/v1/music/plan"]) == 1
    await make_plan_as(discord_fake, BOB)


async def make_plan_as(fake: FakeDiscord, member: Member) -> None:
    interaction = await fake.slash(member, "music", "plan", {"prompt": "chill", "length": 10})
    message = await finished(fake, interaction)
    assert message["embeds"], "another member has their own allowance"


async def test_plan_and_track_buttons_work_after_a_restart(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    first = await start_bot(music_inpainting=True)
    plan_message = await make_plan(discord_fake, "lofi piano", 6)
    composed = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "jazz trio", "length": 4}
    )
    track = await finished(discord_fake, composed)
    await first.close()
    discord_fake.identified.clear()

    await start_bot(music_inpainting=True)
    press = await discord_fake.click(
        ALICE, plan_message, discord_fake.custom_id(plan_message, "music:plan:compose:")
    )
    from_plan = await ready_message(discord_fake, press)
    (audio,) = attachments_of(discord_fake, from_plan)
    assert mp3_seconds(audio) == pytest.approx(6.0, abs=0.2)

    extend = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:extend:")
    )
    extended = await ready_message(discord_fake, extend)
    (audio,) = attachments_of(discord_fake, extended)
    assert mp3_seconds(audio) == pytest.approx(34.0, abs=0.2)
