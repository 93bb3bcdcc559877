"""/music compose end to end: gateway in, REST out, MP3 bytes checked."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from PIL import Image

from bot.app import MusicBot
from tests.audio import mp3_seconds
from tests.conftest import RunningSandbox
from tests.e2e.conftest import BotFactory
from tests.fakes.discord_server import ALICE, BOB, GUILD_ID, MIB, FakeDiscord, Interaction, Recorded

WAVEFORM = "waveform.png"


def attachments_of(fake: FakeDiscord, message: dict[str, Any]) -> list[bytes]:
    """The audio a message carries (the waveform image beside it aside: `waveform_of`)."""
    return [
        fake.attachments[int(a["id"])] for a in message["attachments"] if a["filename"] != WAVEFORM
    ]


def waveform_of(fake: FakeDiscord, message: dict[str, Any]) -> Image.Image:
    """The message's waveform image, shown in its embed; checked small and 800x160."""
    (found,) = [a for a in message["attachments"] if a["filename"] == WAVEFORM]
    data = fake.attachments[int(found["id"])]
    assert len(data) < 64 * 1024, "tiny beside the MP3"
    assert message["embeds"][0]["image"]["url"] == f"attachment://{WAVEFORM}"
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (800, 160)
    return image


def bar_pixels(image: Image.Image) -> float:
    """The share of the waveform's area drawn in the bars' violet."""
    area = image.convert("RGBA").crop((20, 50, 780, 146))
    pixels = list(area.getdata())
    violet = [p for p in pixels if p[2] > 200 and p[0] > 120]  # type: ignore[index]
    return len(violet) / len(pixels)


async def finished(fake: FakeDiscord, interaction: Interaction) -> dict[str, Any]:
    """The original response once it stops showing progress."""

    def done() -> dict[str, Any] | None:
        message = fake.original(interaction)
        if message is None:
            return None
        busy = message["content"].startswith(("🎼", "🎵")) or message["flags"] & 128
        return None if busy else message

    result: dict[str, Any] = await fake.wait_for(done, timeout=20)
    return result


def ephemeral_reply(fake: FakeDiscord, interaction: Interaction) -> Recorded | None:
    for record in fake.sent("POST", rf"/interactions/{interaction.id}/"):
        data = (record.payload or {}).get("data") or {}
        if record.payload.get("type") == 4 and data.get("flags", 0) & 64:
            return record
    return None


def message_writes(fake: FakeDiscord) -> list[Recorded]:
    return [
        r
        for r in fake.requests
        if r.method in ("POST", "PATCH")
        and ("/webhooks/" in r.path or "/messages" in r.path or "/callback" in r.path)
    ]


async def test_compose_delivers_an_mp3_with_embed(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi beat", "length": 5}
    )
    callback = await discord_fake.wait_for(
        lambda: discord_fake.sent("POST", rf"/interactions/{interaction.id}/")
    )
    assert callback[0].payload["type"] == 5, "a public, thinking defer"
    assert callback[0].at - interaction.created < 3.0

    message = await finished(discord_fake, interaction)
    (audio,) = attachments_of(discord_fake, message)
    assert mp3_seconds(audio) == pytest.approx(5.0, abs=0.15)
    assert message["attachments"][0]["filename"] == "lofi-beat.mp3"
    embed = message["embeds"][0]
    assert embed["title"] == "Lofi Beat"
    assert str(ALICE.id) in json.dumps(embed)
    assert any(f["name"] == "Length" and f["value"] == "0:05" for f in embed["fields"])
    assert embed["footer"]["text"].endswith("4 tracks left in your 24 h quota")
    for record in message_writes(discord_fake):
        payload = record.payload or {}
        body = payload.get("data", payload) if "/callback" in record.path else payload
        if "content" in body or "embeds" in body:
            assert body.get("allowed_mentions") == {"parse": []}, record.path
    assert [r.path for r in sandbox.sandbox.requests] == ["/v1/music/detailed"]
    assert sandbox.sandbox.requests[0].query["output_format"] == "mp3_44100_128"


async def test_every_track_shows_its_waveform_from_the_api_or_from_its_audio(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi beat", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    names = [a["filename"] for a in message["attachments"]]
    assert names == ["lofi-beat.mp3", "waveform.png"], "the image next to the MP3"
    from_api = waveform_of(discord_fake, message)
    (request,) = sandbox.sandbox.compose_requests()
    assert request.body["with_waveform_visual"] is True

    # Without the API's waveform_visual, it is measured from the MP3.
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi beat fault:no_visual", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    from_audio = waveform_of(discord_fake, message)
    assert bar_pixels(from_api) > 0.1 and bar_pixels(from_audio) > 0.1, "bars were drawn"


async def test_hostile_prompt_is_echoed_inert(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    prompt = "@everyone **bold** <@1100000000000000012> `code` lofi"
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": prompt, "length": 5}
    )
    message = await finished(discord_fake, interaction)
    text = json.dumps(message["embeds"]) + message["content"]
    assert "@everyone" not in text.replace("@\\u200beveryone", "")
    assert "**bold**" not in text and "\\\\*\\\\*bold\\\\*\\\\*" in text
    assert message["allowed_mentions"] == {"parse": []}
    assert message["attachments"]


async def test_bad_prompt_offers_the_suggestion_to_the_requester_only(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "a track like Daft Punk", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    assert not message["attachments"]
    assert "An original French house track" in json.dumps(message["embeds"])
    button = message["components"][0]["components"][0]
    assert button["label"] == "Compose with this"
    assert len(button["custom_id"]) <= 100 and "Daft" not in button["custom_id"]

    stranger = await discord_fake.click(BOB, message, button["custom_id"])
    refused = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, stranger))
    assert "Only the member" in refused.payload["data"]["content"]
    assert len(sandbox.sandbox.compose_requests()) == 1

    click = await discord_fake.click(ALICE, message, button["custom_id"])

    def delivered() -> dict[str, Any] | None:
        for m in discord_fake.messages.values():
            if m["attachments"] and m["id"] != message["id"]:
                return m
        return None

    track_message = await discord_fake.wait_for(delivered, timeout=20)
    assert mp3_seconds(attachments_of(discord_fake, track_message)[0]) == pytest.approx(5, abs=0.15)
    requests = sandbox.sandbox.compose_requests()
    assert requests[-1].body["prompt"] == "An original French house track"
    # The suggestion message's button is disabled once used.
    assert discord_fake.messages[int(message["id"])]["components"][0]["components"][0]["disabled"]
    assert click.acknowledged


async def test_suggestion_button_survives_a_restart(
    start_bot: BotFactory, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    first = await start_bot()
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "like the beatles", "length": 4}
    )
    message = await finished(discord_fake, interaction)
    custom_id = message["components"][0]["components"][0]["custom_id"]
    await first.close()
    discord_fake.identified.clear()

    await start_bot()
    await discord_fake.click(ALICE, message, custom_id)
    await discord_fake.wait_for(
        lambda: any(m["attachments"] for m in discord_fake.messages.values()), timeout=20
    )
    assert sandbox.sandbox.compose_requests()[-1].body["prompt"] == (
        "An original 1960s British pop-rock song"
    )


async def test_harmful_gets_a_refusal_without_button(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "something fault:harmful", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    assert "refused this prompt as harmful" in message["content"]
    assert not message["components"] and not message["attachments"]


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("unauthorized", "API key was refused"),
        ("rate_limit", "busy right now. Try again in 1 s"),
        ("server_error", "had an error"),
        ("cut", "cut off before it finished"),
        ("quota", "out of credits"),
        ("payment", "paid plan"),
    ],
)
async def test_each_failure_has_its_own_message(
    bot: MusicBot, discord_fake: FakeDiscord, fault: str, expected: str
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": f"lofi fault:{fault}", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    assert expected in message["content"]
    assert "Traceback" not in message["content"] and "fault:" not in message["content"]
    assert not message["attachments"]


async def test_too_long_for_the_upload_limit_is_refused_before_any_api_call(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    interaction = await discord_fake.slash(
        ALICE,
        "music",
        "compose",
        {"prompt": "lofi", "length": 600},
        attachment_size_limit=2 * MIB,
    )
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert "would not fit" in reply.payload["data"]["content"]
    assert "longest that fits is 4:" in reply.payload["data"]["content"]
    assert not sandbox.sandbox.requests


async def test_ten_minutes_fits_an_unboosted_server_at_128_kbps(
    bot: MusicBot, discord_fake: FakeDiscord, sandbox: RunningSandbox
) -> None:
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "ambient", "length": 600}
    )
    message = await finished(discord_fake, interaction)
    (audio,) = attachments_of(discord_fake, message)
    assert len(audio) <= 10 * MIB
    assert sandbox.sandbox.requests[0].query["output_format"] == "mp3_44100_128"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"prompt": "lofi", "length": 700}, "between 3 and 600 seconds"),
        ({"prompt": "lofi", "length": 1}, "between 3 and 600 seconds"),
        ({"prompt": "   ", "length": 5}, "prompt is empty"),
        ({"prompt": "x" * 4200, "length": 5}, "the limit is 4,100"),
    ],
)
async def test_out_of_range_options_are_checked_again(
    bot: MusicBot,
    discord_fake: FakeDiscord,
    sandbox: RunningSandbox,
    options: dict[str, Any],
    expected: str,
) -> None:
    interaction = await discord_fake.slash(ALICE, "music", "compose", options)
    reply = await discord_fake.wait_for(lambda: ephemeral_reply(discord_fake, interaction))
    assert expected in reply.payload["data"]["content"]
    assert not sandbox.sandbox.requests


async def test_expired_token_posts_to_the_channel_pinging_only_the_requester(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    discord_fake.token_lifetime = 0.6
    await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi fault:slow:1", "length": 5}
    )
    posted = await discord_fake.wait_for(
        lambda: [r for r in discord_fake.sent("POST", r"/channels/\d+/messages$") if r.files],
        timeout=20,
    )
    payload = posted[0].payload
    assert payload["content"].startswith(f"<@{ALICE.id}>")
    assert payload["allowed_mentions"] == {"parse": [], "users": [ALICE.id]}
    assert mp3_seconds(posted[0].files[0].data) == pytest.approx(5, abs=0.15)


async def test_a_discord_429_is_waited_out(bot: MusicBot, discord_fake: FakeDiscord) -> None:
    discord_fake.fail_once("PATCH", r"/messages/@original$")
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "jazz", "length": 3}
    )
    message = await finished(discord_fake, interaction)
    assert message["attachments"]
    assert any(r.status == 429 for r in discord_fake.requests)


async def test_longest_hostile_prompt_fits_discords_limits(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    prompt = ("like daft punk *_~`|>\n" * 200)[:4100]
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": prompt, "length": 3}
    )
    message = await finished(discord_fake, interaction)
    assert message["components"], "the suggestion message was accepted by Discord"
    assert all(r.status < 400 for r in discord_fake.requests if "/webhooks/" in r.path)


async def test_a_refused_upload_is_explained_and_not_charged(
    bot: MusicBot, discord_fake: FakeDiscord
) -> None:
    discord_fake.upload_cap = 10_000
    interaction = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi", "length": 5}
    )
    message = await finished(discord_fake, interaction)
    assert "Discord refused the upload" in message["content"]
    assert not message["attachments"] and not message["embeds"]
    assert [r.status for r in discord_fake.sent("POST", r"/channels/\d+/messages$")] == [413]
    status = await bot.services.quotas.status(GUILD_ID, ALICE.id, [])
    assert status.tracks_used == 0


async def test_a_waiting_member_sees_their_place_in_line(
    start_bot: BotFactory, discord_fake: FakeDiscord
) -> None:
    await start_bot(music_concurrency=1)
    first = await discord_fake.slash(
        ALICE, "music", "compose", {"prompt": "lofi fault:slow:1.5", "length": 3}
    )
    await discord_fake.wait_for(
        lambda: any("Composing" in str(r.payload) for r in discord_fake.sent("PATCH", first.token))
    )
    second = await discord_fake.slash(BOB, "music", "compose", {"prompt": "jazz", "length": 3})
    edits = await discord_fake.wait_for(
        lambda: [
            r
            for r in discord_fake.sent("PATCH", second.token)
            if "Queued — you're next" in str(r.payload)
        ]
    )
    assert edits
    assert (await finished(discord_fake, second))["attachments"]
    assert (await finished(discord_fake, first))["attachments"]
