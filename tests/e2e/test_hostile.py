"""A hostile member, end to end: links and markdown smuggled into every echo, invisible
characters, impossible lengths, double clicks, oversized forms and lying attachments."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from bot.app import MusicBot
from bot.music.models import LINE_MAX_CHARS, MAX_LINES, MAX_SECTIONS
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.e2e.test_compose import ephemeral_reply, finished
from tests.e2e.test_plans import (
    make_plan,
    menu_options,
    open_section_form,
    plan_upload,
    ready_message,
    section_fields,
    tracks_used,
)
from tests.fakes.discord_server import ALICE, FakeDiscord, Upload

LINKS = "[free nitro](https://evil.example) lofi and [claim here](https://evil.example/2)"
# A masked link Discord renders: `[text](url)` whose opening bracket is not escaped.
_CLICKABLE = re.compile(r"(?<!\\)(?:\\\\)*\[[^\]\n]*\]\(<?[a-z]+://[^)\s]*\)", re.IGNORECASE)
# A heading or subtext line, quoted or not.
_HEADING = re.compile(r"^(?:> )?(?:#{1,3}|-#) ", re.MULTILINE)


def rendered_text(message: dict[str, Any]) -> str:
    """Everything of a message that Discord renders as markdown."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("description") or "", (embed.get("footer") or {}).get("text") or ""]
        parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)


def assert_inert(message: dict[str, Any]) -> None:
    text = rendered_text(message)
    assert _CLICKABLE.findall(text) == [], text
    assert _HEADING.findall(text) == [], text
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]", text), text


async def test_no_masked_link_survives_in_a_track_and_a_suggestion(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    compose = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": LINKS + "\u2028# big\u2029-# small", "length": 3}
    )
    track = await finished(discord_fake, compose)
    assert track["attachments"], track["content"]
    assert_inert(track)
    assert "claim here" in track["embeds"][0]["description"]

    refused = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": LINKS + " like daft punk", "length": 3}
    )
    suggestion = await finished(discord_fake, refused)
    assert "suggests this instead" in suggestion["embeds"][0]["description"]
    assert_inert(suggestion)


async def test_no_masked_link_survives_in_a_plan_its_lyrics_and_show_plan(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    plan = await make_plan(discord_fake, LINKS + "\r# heading", 20)
    assert_inert(plan)
    chosen = await open_section_form(discord_fake, plan, "0")
    await discord_fake.submit(
        ALICE,
        chosen,
        {
            "name": "Intro **loud** <@1100000000000000012>",
            "styles": f"lofi, {LINKS}",
            "lyrics": f"{LINKS}\n# shout\u0085-# whisper",
        },
    )
    redrawn = await discord_fake.wait_for(
        lambda: (
            (m := discord_fake.messages[int(plan["id"])])
            and "claim here" in section_fields(m)[0]["value"]
            and m
        )
    )
    assert_inert(redrawn)

    compose = await discord_fake.click(
        ALICE, redrawn, discord_fake.custom_id(redrawn, "music:plan:compose:")
    )
    track = await ready_message(discord_fake, compose)
    lyrics = next(f for f in track["embeds"][0]["fields"] if f["name"] == "Lyrics")
    assert "claim here" in lyrics["value"]
    assert_inert(track)

    show = await discord_fake.click(
        ALICE, track, discord_fake.custom_id(track, "music:track:plan:")
    )
    shown = await discord_fake.wait_for(lambda: discord_fake.original(show))
    assert "claim here" in rendered_text(shown)
    assert_inert(shown)


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x08", "\x1b", "\x7f", "\x9b"])
async def test_a_prompt_with_a_control_character_is_refused(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox, character: str
) -> None:
    compose = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": f"lofi{character}beat", "length": 3}
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, compose))
    content = reply.payload["data"]["content"]
    assert f"U+{ord(character):04X}" in content and "control character" in content
    assert character not in content
    assert not sandbox.sandbox.requests
    assert await tracks_used(bot, ALICE) == 0


async def test_control_characters_in_a_plan_file_or_a_form_are_refused(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    bad_file = {"sections": [{"section_name": "Bell\x07", "duration_ms": 5000, "lines": []}]}
    compose = await discord_fake.slash(
        ALICE, "music", "compose", {"plan_file": plan_upload(bad_file)}
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, compose))
    assert "U+0007" in reply.payload["data"]["content"]

    plan = await make_plan(discord_fake, "lofi", 10)
    chosen = await open_section_form(discord_fake, plan, "0")
    submitted = await discord_fake.submit(ALICE, chosen, {"lyrics": "hello\x1b[31m red"})
    error = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, submitted))
    assert "U+001B" in error.payload["data"]["content"]
    assert "Nothing was changed" in error.payload["data"]["content"]
    assert sandbox.sandbox.compose_requests() == []


@pytest.mark.parametrize("length", [0, -5, 2, 601])
async def test_an_impossible_length_is_refused_with_nothing_spent(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox, length: int
) -> None:
    compose = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi", "length": length}
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, compose))
    assert "between 3 and 600 seconds" in reply.payload["data"]["content"]
    assert f"you asked for {length}" in reply.payload["data"]["content"]
    assert not sandbox.sandbox.requests
    assert await tracks_used(bot, ALICE) == 0


async def test_regenerate_double_clicked_composes_and_charges_once(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    compose = await discord_fake.slash(ALICE, "music", "compose", {"prompt": "lofi", "length": 3})
    track = await finished(discord_fake, compose)
    button = discord_fake.custom_id(track, "music:track:again:")

    clicks = await asyncio.gather(*(discord_fake.click(ALICE, track, button) for _ in range(2)))
    refusals = await discord_fake.wait_for(
        lambda: [r for c in clicks if (r := ephemeral_reply(discord_fake, c))]
    )
    assert "already" in refusals[0].payload["data"]["content"]
    composing = next(c for c in clicks if not ephemeral_reply(discord_fake, c))
    await ready_message(discord_fake, composing)
    assert len(sandbox.sandbox.compose_requests()) == 2, "the first track and one regeneration"
    assert await tracks_used(bot, ALICE) == 2
    assert len(refusals) == 1


def long_lyrics_plan(sections: int = 1) -> dict[str, Any]:
    """Sections with the most lyrics the API takes: 30 lines of 200 characters (6,029 in all)."""
    return {
        "positive_global_styles": ["lofi"],
        "negative_global_styles": [],
        "sections": [
            {
                "section_name": f"Part {n + 1}",
                "duration_ms": 5_000,
                "lines": [
                    f"{n}.{line} {'la' * LINE_MAX_CHARS}"[:LINE_MAX_CHARS]
                    for line in range(MAX_LINES)
                ],
            }
            for n in range(sections)
        ],
    }


async def editable_plan(fake: FakeDiscord, plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as an editable plan message: refused as copyrighted, so the API suggests it
    back (without the fault token) and the bot shows it with its edit buttons."""
    plan["sections"][0]["section_name"] += " fault:bad_plan"
    compose = await fake.slash(ALICE, "music", "compose", {"plan_file": plan_upload(plan)})
    message = await finished(fake, compose)
    assert "copyrighted" in message["embeds"][0]["title"], message
    return message


def modal_inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    inputs = {}
    for row in modal["components"]:
        inner = row["component"] if row["type"] == 18 else row["components"][0]
        inputs[inner["custom_id"]] = inner
    return inputs


async def test_every_section_of_a_30_section_plan_can_be_picked(
    start_bot: BotFactory, discord_fake: FakeDiscord
) -> None:
    await start_bot(music_model_id="music_v1")  # a plan of sections
    plan = long_lyrics_plan(MAX_SECTIONS)
    for section in plan["sections"]:
        section["lines"] = section["lines"][:2]
    message = await editable_plan(discord_fake, plan)
    press = await discord_fake.click(
        ALICE, message, discord_fake.custom_id(message, "music:plan:section:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    assert sorted(menu_options(picker), key=int) == [str(n) for n in range(MAX_SECTIONS)]
    last = await open_section_form(discord_fake, message, str(MAX_SECTIONS - 1))
    assert last.modal is not None and "Part 30" in json.dumps(last.modal)


async def test_editing_a_section_with_the_longest_lyrics_loses_no_line(
    start_bot: BotFactory, discord_fake: FakeDiscord
) -> None:
    bot = await start_bot(music_model_id="music_v1")  # a plan of sections
    plan = long_lyrics_plan()
    lines = plan["sections"][0]["lines"]
    assert len("\n".join(lines)) > 4000, "more than one Discord text input holds"
    message = await editable_plan(discord_fake, plan)
    (listing,) = await bot.services.plan_store.recent(int(message["guild_id"]), ALICE.id)

    press = await discord_fake.click(
        ALICE, message, discord_fake.custom_id(message, "music:plan:section:")
    )
    picker = await discord_fake.wait_for(lambda: discord_fake.original(press))
    parts = sorted(v for v in menu_options(picker) if v.split(".")[0] == "0")
    assert parts == ["0", "0.2"], "the section takes two forms"
    forms = [await open_section_form(discord_fake, message, part) for part in parts]
    inputs = {k: v for form in forms for k, v in modal_inputs(form.modal or {}).items()}
    assert all(len(i.get("value") or "") <= 4000 for i in inputs.values())
    lyric_keys = sorted(k for k in inputs if k.startswith("lyrics"))
    in_forms = "\n".join(inputs[key]["value"] for key in lyric_keys)
    assert in_forms.splitlines() == lines, "every line is in a form, none cut"

    renamed = await discord_fake.submit(ALICE, forms[0], {"name": "Renamed"})
    await discord_fake.wait_for(
        lambda: "Renamed" in json.dumps(discord_fake.messages[int(message["id"])]["embeds"])
    )
    await discord_fake.wait_for(lambda: renamed.acknowledged)
    stored = await bot.services.plan_store.get(listing.id)
    assert stored is not None
    section = json.loads(stored.plan_json)["sections"][0]
    assert section["section_name"] == "Renamed"
    assert section["lines"] == lines, "30 lines in, 30 lines kept"

    # The lyrics' own form: an edit the API would refuse is refused, and nothing changes.
    too_many = await discord_fake.submit(
        ALICE, forms[1], {lyric_keys[-1]: inputs[lyric_keys[-1]]["value"] + "\none too many"}
    )
    error = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, too_many))
    assert "at most 30 lyric lines" in error.payload["data"]["content"]
    stored = await bot.services.plan_store.get(listing.id)
    assert stored is not None and json.loads(stored.plan_json)["sections"][0]["lines"] == lines

    changed = [f"new line {n}" for n in range(MAX_LINES)]
    lyrics_form = await open_section_form(discord_fake, message, "0.2")
    edited = await discord_fake.submit(
        ALICE, lyrics_form, {lyric_keys[0]: "\n".join(changed), lyric_keys[1]: ""}
    )
    await discord_fake.wait_for(lambda: edited.acknowledged)
    await discord_fake.wait_for(
        lambda: "new line 0" in json.dumps(discord_fake.messages[int(message["id"])]["embeds"])
    )
    stored = await bot.services.plan_store.get(listing.id)
    assert stored is not None
    section = json.loads(stored.plan_json)["sections"][0]
    assert (section["section_name"], section["lines"]) == ("Renamed", changed)


async def test_an_attachment_larger_than_it_says_is_not_read_whole(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    plan = json.dumps({"sections": [{"section_name": "A", "duration_ms": 5000, "lines": []}]})
    padded = plan[:-1].encode() + b" " * (64 * 1024 * 1024) + b"}"
    compose = await discord_fake.slash(
        ALICE,
        "music",
        "compose",
        {"plan_file": Upload("plan.json", padded, stated_size=len(plan))},
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, compose))
    assert "1024 KiB" in reply.payload["data"]["content"]
    (served,) = discord_fake.served.values()
    assert served < 16 * 1024 * 1024, f"read {served:,} bytes of a file that said {len(plan)}"
    assert sandbox.sandbox.compose_requests() == []
    assert await tracks_used(bot, ALICE) == 0
