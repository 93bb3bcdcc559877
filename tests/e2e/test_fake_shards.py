"""The local Discord routes events as Discord does for shards (a raw gateway client here)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.fakes.discord_server import ALICE, GUILD_ID, OTHER_GUILD_ID, FakeDiscord, shard_of


async def identify(
    session: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int]
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    ws = await session.ws_connect(fake.gateway_url)
    hello = await ws.receive_json()
    assert hello["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "shard": shard}})
    ready = await ws.receive_json()
    return ws, ready["d"]


async def test_each_shard_gets_its_guilds_and_their_interactions() -> None:
    assert shard_of(GUILD_ID, 2) == 1 and shard_of(OTHER_GUILD_ID, 2) == 0
    assert shard_of(None, 2) == 0, "events without a guild go to shard 0"
    fake = FakeDiscord(guilds=(GUILD_ID, OTHER_GUILD_ID), shards=2, max_concurrency=2)
    await fake.start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(
                f"{fake.api_base}/gateway/bot", headers={"Authorization": f"Bot {fake.token}"}
            ) as response:
                gateway = await response.json()
            assert gateway["shards"] == 2
            assert gateway["session_start_limit"]["max_concurrency"] == 2
            zero, ready_zero = await identify(http, fake, [0, 2])
            one, ready_one = await identify(http, fake, [1, 2])
            assert ready_zero["shard"] == [0, 2] and ready_one["shard"] == [1, 2]
            assert [g["id"] for g in ready_zero["guilds"]] == [str(OTHER_GUILD_ID)]
            assert [g["id"] for g in ready_one["guilds"]] == [str(GUILD_ID)]
            assert (await zero.receive_json())["d"]["id"] == str(OTHER_GUILD_ID)
            assert (await one.receive_json())["d"]["id"] == str(GUILD_ID)
            assert [(i.shard_id, i.shard_count) for i in fake.identifies] == [(0, 2), (1, 2)]

            sent = await fake.slash(ALICE, "music", "quota", {}, guild_id=OTHER_GUILD_ID)
            event = await zero.receive_json()
            assert event["t"] == "INTERACTION_CREATE" and event["d"]["id"] == str(sent.id)
            # Shard 1 got nothing: its next event is the one for its own guild.
            mine = await fake.slash(ALICE, "music", "quota", {}, guild_id=GUILD_ID)
            assert json.loads((await one.receive()).data)["d"]["id"] == str(mine.id)

            callback = f"{fake.api_base}/interactions/{sent.id}/{sent.token}/callback"
            answers = []
            for _ in range(2):
                async with http.post(callback, json={"type": 5}) as response:
                    answers.append((response.status, (await response.json()).get("code")))
            assert answers[1] == (400, 40060), "a second callback for one interaction"
            assert sent.refused_callbacks == 1
            await zero.close()
            await one.close()
    finally:
        await fake.stop()
