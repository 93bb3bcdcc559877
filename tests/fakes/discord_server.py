"""A local Discord: REST v10 and the gateway on aiohttp, enough for an unmodified discord.py.

It behaves as Discord documents where a bot could get it wrong: JSON with exactly
`application/json`, 3 s to the first interaction callback (10062), no double acknowledgement
(40060), interaction tokens that expire (50027), per-attachment upload limits (413/40005),
2000-character content (50035), and 429s with `retry_after` and `Via`. Every request is recorded,
attachment bytes included, and tests wait on the record instead of sleeping.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.voice_server import VoiceServer, VoiceSession

GUILD_ID = 1100000000000000001
CHANNEL_ID = 1100000000000000002
VOICE_CHANNEL_ID = 1100000000000000006
# A second voice channel, where a moderator may move the bot.
OTHER_VOICE_CHANNEL_ID = 1100000000000000007
APP_ID = 1100000000000000003
MOD_ROLE_ID = 1100000000000000004
DJ_ROLE_ID = 1100000000000000005
MANAGE_GUILD = 1 << 5
# View channel, send messages, embed links, attach files, read message history, connect,
# speak, use application commands.
BASIC_PERMISSIONS = (
    (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 20) | (1 << 21) | (1 << 31)
)
# A second server, on the other shard of two: (guild_id >> 22) % 2 is 0 here, 1 for GUILD_ID.
OTHER_GUILD_ID = GUILD_ID + (1 << 22)
MIB = 1024 * 1024
RECORD = web.RequestKey("record", object)


DISCORD_EPOCH_MS = 1420070400000


def shard_of(guild_id: int | None, count: int) -> int:
    """The shard Discord sends a guild's events to; events without a guild go to shard 0."""
    return (guild_id >> 22) % count if guild_id is not None else 0


def channel_of(guild_id: int) -> int:
    """The text channel of a guild (GUILD_ID's is CHANNEL_ID)."""
    return CHANNEL_ID if guild_id == GUILD_ID else guild_id + 1


@dataclass
class Session:
    """A gateway connection and the shard it identified as."""

    ws: web.WebSocketResponse
    shard: tuple[int, int] | None = None

    def receives(self, guild_id: int | None) -> bool:
        return self.shard is not None and shard_of(guild_id, self.shard[1]) == self.shard[0]


def _snowflakes() -> Iterator[int]:
    """Ids that encode the current time, as Discord's do (discord.py reads times from them)."""
    for counter in itertools.count():
        yield ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | (counter % 4096)


def user_payload(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": name.title(),
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


@dataclass
class Member:
    id: int
    name: str
    roles: list[int] = field(default_factory=list)
    permissions: int = BASIC_PERMISSIONS
    bot: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "user": user_payload(self.id, self.name, bot=self.bot),
            "roles": [str(r) for r in self.roles],
            "joined_at": "2026-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }


BOT = Member(1100000000000000010, "elevenmusic", bot=True)
ALICE = Member(1100000000000000011, "alice")
BOB = Member(1100000000000000012, "bob")
MOD = Member(
    1100000000000000013, "mod", roles=[MOD_ROLE_ID], permissions=BASIC_PERMISSIONS | MANAGE_GUILD
)


class Channel:
    """An option value meaning the guild's text channel."""


@dataclass
class Upload:
    """An option value: a file the member attaches to a slash command. `stated_size` is the
    size the attachment claims (a hostile client can claim less than it serves)."""

    filename: str
    data: bytes
    content_type: str = "application/json"
    stated_size: int | None = None


JAM_CHANNEL = Channel()


@dataclass
class UploadedFile:
    field: str
    filename: str
    content_type: str
    data: bytes
    size: int = 0

    def __post_init__(self) -> None:
        self.size = self.size or len(self.data)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    payload: Any
    files: list[UploadedFile]
    status: int = 0
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Identify:
    shard_id: int
    shard_count: int
    at: float


@dataclass
class Interaction:
    id: int
    token: str
    type: int
    user: Member
    created: float
    payload: dict[str, Any]
    acknowledged: bool = False
    original_message_id: int | None = None
    # What a type 9 callback opened, and what a type 8 callback offered.
    modal: dict[str, Any] | None = None
    choices: list[dict[str, Any]] | None = None
    # How many callbacks were refused because another one came first (400/40060).
    refused_callbacks: int = 0

    @property
    def attachment_limit(self) -> int:
        return int(self.payload["attachment_size_limit"])


class DiscordError(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class FakeDiscord:
    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        attachment_size_limit: int = 10 * MIB,
        token_lifetime: float = 15 * 60,
        premium_tier: int = 0,
        keep_uploads: bool = True,
        guilds: tuple[int, ...] = (GUILD_ID,),
        shards: int = 1,
        max_concurrency: int = 1,
    ) -> None:
        self.token = token
        self.guilds = guilds
        # What GET /gateway/bot recommends.
        self.shards = shards
        self.max_concurrency = max_concurrency
        # Every IDENTIFY, in order: its shard and when it came.
        self.identifies: list[Identify] = []
        self.attachment_size_limit = attachment_size_limit
        self.token_lifetime = token_lifetime
        self.premium_tier = premium_tier
        # Benchmarks upload gigabytes: keep only the sizes of what was uploaded.
        self.keep_uploads = keep_uploads
        # When set, every upload above this many bytes is refused, whatever the limits say.
        self.upload_cap: int | None = None
        # When set, the bot may not post in the channel (403 50013), as when a server admin
        # took away its Send Messages permission; interaction replies still work.
        self.deny_channel_posts = False
        self.members = [BOT, ALICE, BOB, MOD]
        # Who is in the voice channel (member id -> their voice session id), and the voice
        # server the bot is sent to when it joins.
        self.in_voice: dict[int, str] = {}
        # Who is in another voice channel than VOICE_CHANNEL_ID.
        self.voice_channel_of: dict[int, int] = {}
        self.voice_server: VoiceServer | None = None
        # What the bot asked of voice (op 4), in order: the channel id, or None to leave.
        self.voice_requests: list[int | None] = []
        self.requests: list[Recorded] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.interactions: dict[str, Interaction] = {}
        self.attachments: dict[int, bytes] = {}
        # Bytes of each attachment sent to a downloader before it stopped reading.
        self.served: dict[int, int] = {}
        # Called once a message with uploads is stored, before Discord answers (a test can
        # stop the bot right there: the upload landed, the bot never heard).
        self.on_upload: Callable[[], None] | None = None
        self.identified = asyncio.Event()
        # Servers the bot left (DELETE /users/@me/guilds/{id}); with `leave_denied` the leave
        # fails (403), so the bot stays where it should not be.
        self.left_guilds: list[int] = []
        self.leave_denied = False
        self.url = ""
        self._ids = _snowflakes()
        self._seq = itertools.count(1)
        self._sessions: list[Session] = []
        self._changed = asyncio.Condition()
        self._fail_once: list[tuple[str, re.Pattern[str], float]] = []
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application(client_max_size=200 * MIB, middlewares=[self._record_middleware])
        r = app.router
        r.add_get("/gateway", self._gateway)
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/gateway/bot", self._gateway_bot)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_put("/api/v10/applications/{app}/commands", self._put_commands)
        r.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._put_commands)
        r.add_get("/api/v10/applications/{app}/commands", self._get_commands)
        r.add_post("/api/v10/interactions/{id}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_route(
            "*", "/api/v10/webhooks/{app}/{token}/messages/{message}", self._webhook_message
        )
        r.add_post("/api/v10/channels/{channel}/messages", self._channel_message)
        r.add_get("/api/v10/channels/{channel}/messages", self._channel_history)
        r.add_get("/api/v10/channels/{channel}/messages/{message}", self._get_channel_message)
        r.add_patch("/api/v10/channels/{channel}/messages/{message}", self._edit_channel_message)
        r.add_delete("/api/v10/channels/{channel}/messages/{message}", self._delete_channel_message)
        r.add_post("/api/v10/channels/{channel}/typing", self._typing)
        r.add_delete("/api/v10/users/@me/guilds/{guild}", self._leave_guild)
        r.add_get("/attachments/{id}/{filename}", self._attachment)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    @property
    def api_base(self) -> str:
        return f"{self.url}/api/v10"

    @property
    def gateway_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/gateway"

    async def stop(self) -> None:
        for session in list(self._sessions):
            await session.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- test controls ------------------------------------------------------------------------

    def fail_once(self, method: str, path_pattern: str, retry_after: float = 0.05) -> None:
        """Answer the next matching request with a 429 that discord.py retries."""
        self._fail_once.append((method, re.compile(path_pattern), retry_after))

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked after every request); return it."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    def sent(self, method: str, pattern: str) -> list[Recorded]:
        regex = re.compile(pattern)
        return [r for r in self.requests if r.method == method and regex.search(r.path)]

    async def slash(
        self,
        user: Member,
        group: str,
        sub: str,
        options: dict[str, Any],
        *,
        attachment_size_limit: int | None = None,
        focused: str | None = None,
        guild_id: int = GUILD_ID,
    ) -> Interaction:
        """A slash command; with `focused`, the autocomplete request for that option instead."""
        types = {str: 3, bool: 5, int: 4}
        resolved: dict[str, dict[str, Any]] = {}
        wire_options = []
        for name, value in options.items():
            if isinstance(value, Channel):
                resolved.setdefault("channels", {})[str(CHANNEL_ID)] = self._channel_payload() | {
                    "permissions": str(BASIC_PERMISSIONS)
                }
                wire_options.append({"name": name, "type": 7, "value": str(CHANNEL_ID)})
            elif isinstance(value, Member):
                member = value.payload()
                resolved.setdefault("users", {})[str(value.id)] = member.pop("user")
                resolved.setdefault("members", {})[str(value.id)] = member | {
                    "permissions": str(value.permissions)
                }
                wire_options.append({"name": name, "type": 6, "value": str(value.id)})
            elif isinstance(value, Upload):
                attachment_id = next(self._ids)
                self.attachments[attachment_id] = value.data
                url = f"{self.url}/attachments/{attachment_id}/{value.filename}"
                resolved.setdefault("attachments", {})[str(attachment_id)] = {
                    "id": str(attachment_id),
                    "filename": value.filename,
                    "size": len(value.data) if value.stated_size is None else value.stated_size,
                    "url": url,
                    "proxy_url": url,
                    "content_type": value.content_type,
                }
                wire_options.append({"name": name, "type": 11, "value": str(attachment_id)})
            else:
                wire_options.append({"name": name, "type": types[type(value)], "value": value})
                if name == focused:
                    wire_options[-1]["focused"] = True
        data: dict[str, Any] = {
            "id": str(next(self._ids)),
            "name": group,
            "type": 1,
            "options": [{"name": sub, "type": 1, "options": wire_options}],
        }
        if resolved:
            data["resolved"] = resolved
        kind = 4 if focused is not None else 2
        return await self._dispatch_interaction(
            kind, user, data, attachment_size_limit, guild_id=guild_id
        )

    async def click(self, user: Member, message: dict[str, Any], custom_id: str) -> Interaction:
        data = {"custom_id": custom_id, "component_type": 2}
        guild_id = int(message.get("guild_id") or GUILD_ID)
        return await self._dispatch_interaction(
            3, user, data, None, message=message, guild_id=guild_id
        )

    async def choose(
        self, user: Member, message: dict[str, Any], custom_id: str, values: list[str]
    ) -> Interaction:
        """Pick `values` in a string select menu."""
        data = {"custom_id": custom_id, "component_type": 3, "values": values}
        return await self._dispatch_interaction(3, user, data, None, message=message)

    async def submit(
        self, user: Member, opened_by: Interaction, values: dict[str, str]
    ) -> Interaction:
        """Submit the modal that `opened_by` showed, with text input values by custom_id."""
        modal = opened_by.modal
        assert modal is not None, "that interaction opened no modal"
        rows = []
        for row in modal["components"]:
            inner = row["component"] if row["type"] == 18 else row["components"][0]
            custom_id = inner["custom_id"]
            field_value = {
                "type": 4,
                "custom_id": custom_id,
                "value": values.get(custom_id, inner.get("value") or ""),
            }
            rows.append(
                {"type": 18, "component": field_value}
                if row["type"] == 18
                else {"type": 1, "components": [field_value]}
            )
        data = {"custom_id": modal["custom_id"], "components": rows}
        message = opened_by.payload.get("message")
        return await self._dispatch_interaction(5, user, data, None, message=message)

    def custom_id(self, message: dict[str, Any], prefix: str) -> str:
        """The custom_id of the component in `message` that starts with `prefix`."""
        for row in message.get("components", []):
            for item in row.get("components", []):
                if str(item.get("custom_id", "")).startswith(prefix):
                    return str(item["custom_id"])
        raise AssertionError(f"no component {prefix!r} in the message")

    def message_with_custom_id(self, prefix: str) -> dict[str, Any] | None:
        for message in self.messages.values():
            for row in message.get("components", []):
                for item in row.get("components", []):
                    if str(item.get("custom_id", "")).startswith(prefix):
                        return message
        return None

    def original(self, interaction: Interaction) -> dict[str, Any] | None:
        if interaction.original_message_id is None:
            return None
        return self.messages.get(interaction.original_message_id)

    # -- gateway ------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        session = Session(ws)
        self._sessions.append(session)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 41250}}))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                op = payload.get("op")
                if op == 1:
                    await ws.send_str(json.dumps({"op": 11}))
                elif op == 2:
                    if payload["d"].get("token") != self.token:
                        await ws.close(code=4004, message=b"Authentication failed")
                        break
                    shard_id, count = payload["d"].get("shard") or (0, 1)
                    self.identifies.append(Identify(shard_id, count, time.monotonic()))
                    session.shard = (shard_id, count)
                    await self._ready(ws, shard_id, count)
                elif op == 4:
                    await self._voice_state_request(payload["d"])
                elif op == 6:
                    await self._send_dispatch(ws, "RESUMED", {})
        finally:
            self._sessions.remove(session)
        return ws

    async def _ready(self, ws: web.WebSocketResponse, shard_id: int, count: int) -> None:
        """READY for one shard: only the guilds Discord routes to it."""
        guilds = [g for g in self.guilds if shard_of(g, count) == shard_id]
        await self._send_dispatch(
            ws,
            "READY",
            {
                "v": 10,
                "user": user_payload(BOT.id, BOT.name, bot=True),
                "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
                "session_id": f"fake-session-{shard_id}",
                "resume_gateway_url": self.gateway_url,
                "application": {"id": str(APP_ID), "flags": 0},
                "shard": [shard_id, count],
            },
        )
        for guild_id in guilds:
            await self._send_dispatch(ws, "GUILD_CREATE", self._guild_payload(guild_id))
        self.identified.set()
        async with self._changed:
            self._changed.notify_all()

    def identified_shards(self) -> set[int]:
        """The shards connected now."""
        return {s.shard[0] for s in self._sessions if s.shard is not None}

    def _guild_payload(self, guild_id: int = GUILD_ID) -> dict[str, Any]:
        main = guild_id == GUILD_ID
        return {
            "id": str(guild_id),
            "name": "Jam Server",
            "owner_id": "1100000000000000099",
            "unavailable": False,
            "premium_tier": self.premium_tier,
            "features": [],
            "member_count": len(self.members),
            "large": False,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(BASIC_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                },
                {
                    "id": str(MOD_ROLE_ID),
                    "name": "Moderator",
                    "permissions": str(BASIC_PERMISSIONS | MANAGE_GUILD),
                    "position": 2,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                },
                {
                    "id": str(DJ_ROLE_ID),
                    "name": "DJ",
                    "permissions": str(BASIC_PERMISSIONS),
                    "position": 1,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                },
            ],
            "system_channel_id": str(channel_of(guild_id)),
            "channels": [self._channel_payload(guild_id)]
            + (
                [
                    self._voice_channel_payload(),
                    self._voice_channel_payload(OTHER_VOICE_CHANNEL_ID, "Studio"),
                ]
                if main
                else []
            ),
            "members": [m.payload() for m in self.members],
            "emojis": [],
            "stickers": [],
            "threads": [],
            "voice_states": [
                self._voice_state(m) for m in self.members if main and m.id in self.in_voice
            ],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
        }

    def _voice_channel_payload(
        self, channel_id: int = VOICE_CHANNEL_ID, name: str = "Lounge"
    ) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 2,
            "name": name,
            "position": 1,
            "guild_id": str(GUILD_ID),
            "permission_overwrites": [],
            "bitrate": 96000,
            "user_limit": 0,
            "rtc_region": None,
            "nsfw": False,
        }

    def _voice_state(self, member: Member, *, channel: bool = True) -> dict[str, Any]:
        return {
            "guild_id": str(GUILD_ID),
            "channel_id": (
                str(self.voice_channel_of.get(member.id, VOICE_CHANNEL_ID)) if channel else None
            ),
            "user_id": str(member.id),
            "member": member.payload(),
            "session_id": self.in_voice.get(member.id, "gone"),
            "deaf": False,
            "mute": False,
            "self_deaf": member is BOT,
            "self_mute": False,
            "self_video": False,
            "suppress": False,
            "request_to_speak_timestamp": None,
        }

    async def join_voice(self, member: Member, channel_id: int = VOICE_CHANNEL_ID) -> None:
        """`member` joins a voice channel, as their client would tell everyone."""
        self.in_voice[member.id] = f"session-{member.id}"
        if channel_id != VOICE_CHANNEL_ID:
            self.voice_channel_of[member.id] = channel_id
        await self._broadcast("VOICE_STATE_UPDATE", self._voice_state(member))

    async def leave_voice(self, member: Member) -> None:
        state = self._voice_state(member, channel=False)
        self.in_voice.pop(member.id, None)
        self.voice_channel_of.pop(member.id, None)
        await self._broadcast("VOICE_STATE_UPDATE", state)

    async def _voice_state_request(self, data: dict[str, Any]) -> None:
        """The bot's op 4: join (send it to the voice server) or leave the voice channel."""
        channel_id = data.get("channel_id")
        self.voice_requests.append(int(channel_id) if channel_id else None)
        if channel_id is None:
            await self.leave_voice(BOT)
            return
        assert self.voice_server is not None, "no voice server: start the fake with one"
        if int(channel_id) != VOICE_CHANNEL_ID:
            self.voice_channel_of[BOT.id] = int(channel_id)
        # Asking again while in the channel (a resume) keeps the session, as Discord does.
        current = self.in_voice.get(BOT.id)
        session = next(
            (s for s in self.voice_server.sessions.values() if s.session_id == current), None
        ) or self.voice_server.hand_out(GUILD_ID, BOT.id, int(channel_id))
        await self._send_voice_session(session)

    async def move_bot(self, channel_id: int) -> None:
        """A moderator drags the bot to another voice channel: its new voice state, its voice
        connection closed with 4014, and a voice server for the new channel."""
        assert self.voice_server is not None
        self.voice_channel_of[BOT.id] = channel_id
        await self._broadcast("VOICE_STATE_UPDATE", self._voice_state(BOT))
        await self.voice_server.close_connections(4014)
        await self._send_voice_session(self.voice_server.hand_out(GUILD_ID, BOT.id, channel_id))

    async def move_voice_server(self) -> None:
        """Discord moves the call to another voice server: a new session, announced mid-call
        with VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE."""
        assert self.voice_server is not None
        await self._send_voice_session(
            self.voice_server.hand_out(GUILD_ID, BOT.id, VOICE_CHANNEL_ID)
        )

    async def _send_voice_session(self, session: VoiceSession) -> None:
        assert self.voice_server is not None
        self.in_voice[BOT.id] = session.session_id
        await self._broadcast("VOICE_STATE_UPDATE", self._voice_state(BOT))
        await self._broadcast(
            "VOICE_SERVER_UPDATE",
            {
                "token": session.token,
                "guild_id": str(GUILD_ID),
                "endpoint": self.voice_server.endpoint,
            },
        )
        async with self._changed:
            self._changed.notify_all()

    async def _broadcast(self, event: str, data: Any) -> None:
        """A guild event, to the sessions of the guild's shard."""
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        for session in list(self._sessions):
            if session.receives(guild_id):
                await self._send_dispatch(session.ws, event, data)

    def _channel_payload(self, guild_id: int = GUILD_ID) -> dict[str, Any]:
        return {
            "id": str(channel_of(guild_id)),
            "type": 0,
            "name": "jam",
            "position": 0,
            "guild_id": str(guild_id),
            "permission_overwrites": [],
            "nsfw": False,
        }

    async def _send_dispatch(self, ws: web.WebSocketResponse, event: str, data: Any) -> None:
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}))

    async def _dispatch_interaction(
        self,
        kind: int,
        user: Member,
        data: dict[str, Any],
        attachment_size_limit: int | None,
        *,
        message: dict[str, Any] | None = None,
        guild_id: int = GUILD_ID,
    ) -> Interaction:
        await asyncio.wait_for(self.identified.wait(), 10)
        interaction_id = next(self._ids)
        token = f"itoken-{interaction_id}"
        member = user.payload() | {"permissions": str(user.permissions)}
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APP_ID),
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "features": [], "locale": "en-US"},
            "channel_id": str(channel_of(guild_id)),
            "channel": self._channel_payload(guild_id),
            "member": member,
            "data": data,
            "locale": "en-US",
            "guild_locale": "en-US",
            "app_permissions": str(BASIC_PERMISSIONS),
            "attachment_size_limit": attachment_size_limit or self.attachment_size_limit,
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
        }
        if message is not None:
            payload["message"] = message
        interaction = Interaction(interaction_id, token, kind, user, time.monotonic(), payload)
        self.interactions[token] = interaction
        for session in list(self._sessions):
            # Every session of the guild's shard: two processes on one shard both get it.
            if session.receives(guild_id):
                await self._send_dispatch(session.ws, "INTERACTION_CREATE", payload)
        return interaction

    # -- REST ---------------------------------------------------------------------------------

    @web.middleware
    async def _record_middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if request.path == "/gateway":
            return await handler(request)  # type: ignore[no-any-return]
        payload, files = await _read_payload(request)
        record = Recorded(
            request.method, request.path, dict(request.query), dict(request.headers), payload, files
        )
        request[RECORD] = record
        try:
            for index, (method, pattern, retry_after) in enumerate(self._fail_once):
                if method == request.method and pattern.search(request.path):
                    del self._fail_once[index]
                    response: web.StreamResponse = _json(
                        429,
                        {
                            "message": "You are being rate limited.",
                            "retry_after": retry_after,
                            "global": False,
                        },
                        headers={
                            "Via": "1.1 google",
                            "X-RateLimit-Scope": "user",
                            "Retry-After": str(retry_after),
                        },
                    )
                    break
            else:
                if (
                    request.path.startswith("/api/v10/")
                    and not request.path.startswith(
                        ("/api/v10/interactions/", "/api/v10/webhooks/")
                    )
                    and request.headers.get("Authorization") != f"Bot {self.token}"
                ):
                    response = _json(401, {"message": "401: Unauthorized", "code": 0})
                else:
                    try:
                        response = await handler(request)
                    except DiscordError as exc:
                        response = _json(exc.status, {"message": exc.message, "code": exc.code})
            record.status = response.status
            return response
        finally:
            if not self.keep_uploads:
                for upload in record.files:
                    upload.size, upload.data = len(upload.data), b""
            self.requests.append(record)
            async with self._changed:
                self._changed.notify_all()

    async def _me(self, request: web.Request) -> web.Response:
        return _json(200, user_payload(BOT.id, BOT.name, bot=True))

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        return _json(
            200,
            {
                "url": self.gateway_url,
                "shards": self.shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000 - len(self.identifies),
                    "reset_after": 0,
                    "max_concurrency": self.max_concurrency,
                },
            },
        )

    async def _application(self, request: web.Request) -> web.Response:
        return _json(
            200,
            {
                "id": str(APP_ID),
                "name": "Eleven Music",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user_payload(1100000000000000099, "owner"),
                "verify_key": "00",
                "flags": 0,
            },
        )

    async def _put_commands(self, request: web.Request) -> web.Response:
        body = request[RECORD].payload
        scope = request.match_info.get("guild", "global")
        synced = [
            {**command, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
            for command in body
        ]
        self.commands[scope] = synced
        return _json(200, synced)

    async def _get_commands(self, request: web.Request) -> web.Response:
        return _json(200, self.commands.get("global", []))

    def _live_interaction(self, token: str) -> Interaction:
        interaction = self.interactions.get(token)
        if interaction is None:
            raise DiscordError(404, 10015, "Unknown Webhook")
        if time.monotonic() - interaction.created > self.token_lifetime:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        return interaction

    async def _callback(self, request: web.Request) -> web.Response:
        interaction = self.interactions.get(request.match_info["token"])
        if interaction is None or str(interaction.id) != request.match_info["id"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        if interaction.acknowledged:
            interaction.refused_callbacks += 1
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - interaction.created > 3.0:
            raise DiscordError(404, 10062, "Unknown interaction")
        record: Recorded = request[RECORD]
        body = record.payload or {}
        kind, data = body.get("type"), body.get("data") or {}
        interaction.acknowledged = True
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):
            message = self._store_message(
                data,
                record.files,
                interaction.attachment_limit,
                loading=kind == 5,
                interaction=interaction,
            )
            interaction.original_message_id = int(message["id"])
            resource["message"] = message
        elif kind == 7 and "message" in interaction.payload:
            target = int(interaction.payload["message"]["id"])
            message = self._update_message(target, data, record.files, self.attachment_size_limit)
            interaction.original_message_id = target
            resource["message"] = message
        elif kind == 6 and "message" in interaction.payload:
            interaction.original_message_id = int(interaction.payload["message"]["id"])
        elif kind == 8:
            choices = data.get("choices") or []
            if len(choices) > 25 or any(len(c.get("name", "")) > 100 for c in choices):
                raise DiscordError(400, 50035, "Invalid Form Body: choices")
            interaction.choices = choices
        elif kind == 9:
            self._check_modal(data)
            interaction.modal = data
        return _json(
            200,
            {
                "interaction": {
                    "id": str(interaction.id),
                    "type": interaction.type,
                    "response_message_id": str(interaction.original_message_id or 0),
                    "response_message_loading": kind == 5,
                    "response_message_ephemeral": bool(data.get("flags", 0) & 64),
                },
                "resource": resource,
            },
        )

    async def _followup(self, request: web.Request) -> web.Response:
        interaction = self._live_interaction(request.match_info["token"])
        record: Recorded = request[RECORD]
        message = self._store_message(
            record.payload or {},
            record.files,
            interaction.attachment_limit,
            interaction=interaction,
        )
        return _json(200, message)

    async def _webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._live_interaction(request.match_info["token"])
        which = request.match_info["message"]
        message_id = interaction.original_message_id if which == "@original" else int(which)
        if message_id is None or message_id not in self.messages:
            raise DiscordError(404, 10008, "Unknown Message")
        if request.method == "GET":
            return _json(200, self.messages[message_id])
        if request.method == "DELETE":
            del self.messages[message_id]
            return web.Response(status=204)
        record: Recorded = request[RECORD]
        message = self._update_message(
            message_id, record.payload or {}, record.files, interaction.attachment_limit
        )
        return _json(200, message)

    async def _channel_message(self, request: web.Request) -> web.Response:
        if self.deny_channel_posts:
            raise DiscordError(403, 50013, "Missing Permissions")
        record: Recorded = request[RECORD]
        channel_id = int(request.match_info["channel"])
        message = self._store_message(
            record.payload or {}, record.files, self.guild_filesize_limit, channel_id=channel_id
        )
        return _json(200, message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        record: Recorded = request[RECORD]
        message_id = int(request.match_info["message"])
        if message_id not in self.messages:
            raise DiscordError(404, 10008, "Unknown Message")
        return _json(
            200,
            self._update_message(
                message_id, record.payload or {}, record.files, self.guild_filesize_limit
            ),
        )

    async def _channel_history(self, request: web.Request) -> web.Response:
        """Messages newest first, after a snowflake if given, like Discord's history."""
        after = int(request.query.get("after", 0))
        limit = min(100, int(request.query.get("limit", 50)))
        found = [
            m
            for message_id, m in sorted(self.messages.items(), reverse=True)
            if message_id > after and m["channel_id"] == request.match_info["channel"]
        ]
        return _json(200, found[:limit])

    async def _get_channel_message(self, request: web.Request) -> web.Response:
        message = self.messages.get(int(request.match_info["message"]))
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return _json(200, message)

    async def _delete_channel_message(self, request: web.Request) -> web.Response:
        if self.messages.pop(int(request.match_info["message"]), None) is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return web.Response(status=204)

    async def _leave_guild(self, request: web.Request) -> web.Response:
        guild_id = int(request.match_info["guild"])
        if guild_id not in self.guilds or guild_id in self.left_guilds:
            raise DiscordError(404, 10004, "Unknown Guild")
        if self.leave_denied:
            raise DiscordError(403, 50001, "Missing Access")
        self.left_guilds.append(guild_id)
        # As Discord does: the guild's shard hears that the guild is gone.
        for session in list(self._sessions):
            if session.receives(guild_id):
                await self._send_dispatch(session.ws, "GUILD_DELETE", {"id": str(guild_id)})
        return web.Response(status=204)

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        attachment_id = int(request.match_info["id"])
        data = self.attachments.get(attachment_id)
        if data is None:
            raise web.HTTPNotFound()
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        self.served[attachment_id] = 0
        for start in range(0, len(data), 64 * 1024):
            # Counted as each piece is handed over, so a reader that stops early shows.
            await response.write(data[start : start + 64 * 1024])
            self.served[attachment_id] = min(len(data), start + 64 * 1024)
        await response.write_eof()
        return response

    @property
    def guild_filesize_limit(self) -> int:
        return {2: 50 * MIB, 3: 100 * MIB}.get(self.premium_tier, 10 * MIB)

    # -- messages -----------------------------------------------------------------------------

    def _attachments(
        self, body: dict[str, Any], files: list[UploadedFile], limit: int
    ) -> list[dict[str, Any]]:
        result = []
        if self.upload_cap is not None:
            limit = min(limit, self.upload_cap)
        for upload in files:
            if len(upload.data) > limit:
                raise DiscordError(413, 40005, "Request entity too large")
            attachment_id = next(self._ids)
            self.attachments[attachment_id] = upload.data if self.keep_uploads else b""
            result.append(
                {
                    "id": str(attachment_id),
                    "filename": upload.filename,
                    "size": len(upload.data),
                    "url": f"{self.url}/attachments/{attachment_id}/{upload.filename}",
                    "proxy_url": f"{self.url}/attachments/{attachment_id}/{upload.filename}",
                    "content_type": upload.content_type,
                }
            )
        return result

    @staticmethod
    def _check_modal(data: dict[str, Any]) -> None:
        """Discord's modal limits: a title of 45, at most 5 inputs, labels of 45, values of 4000."""
        rows = data.get("components") or []
        problems = len(data.get("title") or "") > 45 or not 1 <= len(rows) <= 5
        for row in rows:
            inner = (
                row.get("component")
                if row.get("type") == 18
                else (row.get("components") or [{}])[0]
            )
            label = row.get("label") if row.get("type") == 18 else (inner or {}).get("label")
            problems |= len(label or "") > 45 or len((inner or {}).get("value") or "") > 4000
            problems |= len(row.get("description") or "") > 100
        if problems:
            raise DiscordError(400, 50035, "Invalid Form Body: modal")

    def _check_content(self, body: dict[str, Any]) -> None:
        """Discord's message limits: 2000 characters of content, and the embed limits."""
        content = body.get("content")
        if isinstance(content, str) and len(content) > 2000:
            raise DiscordError(400, 50035, "Invalid Form Body: content too long")
        total = 0
        for embed in body.get("embeds") or []:
            sizes = [
                (len(embed.get("title") or ""), 256),
                (len(embed.get("description") or ""), 4096),
                (len((embed.get("footer") or {}).get("text") or ""), 2048),
            ]
            for embed_field in embed.get("fields") or []:
                sizes += [
                    (len(embed_field.get("name") or ""), 256),
                    (len(embed_field.get("value") or ""), 1024),
                ]
            if any(size > limit for size, limit in sizes) or len(embed.get("fields") or []) > 25:
                raise DiscordError(400, 50035, "Invalid Form Body: embed too large")
            total += sum(size for size, _ in sizes)
        if total > 6000:
            raise DiscordError(400, 50035, "Invalid Form Body: embeds too large")

    def _store_message(
        self,
        body: dict[str, Any],
        files: list[UploadedFile],
        limit: int,
        *,
        loading: bool = False,
        interaction: Interaction | None = None,
        channel_id: int | None = None,
    ) -> dict[str, Any]:
        self._check_content(body)
        message_id = next(self._ids)
        if interaction is not None:
            guild_id = int(interaction.payload["guild_id"])
        else:
            guild_id = next((g for g in self.guilds if channel_of(g) == channel_id), GUILD_ID)
        message = {
            "id": str(message_id),
            "channel_id": str(channel_of(guild_id)),
            "guild_id": str(guild_id),
            "type": 20 if interaction is not None else 0,
            "author": user_payload(BOT.id, BOT.name, bot=True),
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": self._attachments(body, files, limit),
            "allowed_mentions": body.get("allowed_mentions"),
            "flags": (body.get("flags") or 0) | (128 if loading else 0),
            "timestamp": "2026-11-25T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
            "webhook_id": str(APP_ID) if interaction is not None else None,
            "application_id": str(APP_ID),
        }
        if interaction is not None:
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": user_payload(interaction.user.id, interaction.user.name),
                "authorizing_integration_owners": {},
            }
        self.messages[message_id] = message
        if files and self.on_upload is not None:
            self.on_upload()
        return message

    def _update_message(
        self, message_id: int, body: dict[str, Any], files: list[UploadedFile], limit: int
    ) -> dict[str, Any]:
        self._check_content(body)
        message = self.messages[message_id]
        # Uploads are checked before anything changes: a refused edit leaves the message as is.
        uploaded = self._attachments(body, files, limit) if files else []
        for key in ("content", "embeds", "components", "allowed_mentions"):
            if key in body:
                message[key] = (
                    body[key]
                    if body[key] is not None
                    else ("" if key == "content" else [] if key != "allowed_mentions" else None)
                )
        if "attachments" in body or files:
            listed = {str(a.get("id")) for a in body.get("attachments") or []}
            kept = [a for a in message["attachments"] if a["id"] in listed]
            message["attachments"] = kept + uploaded
        message["flags"] = message["flags"] & ~128
        message["edited_timestamp"] = "2026-11-25T00:00:01+00:00"
        if files and self.on_upload is not None:
            self.on_upload()
        return message


async def _read_payload(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    content_type = request.headers.get("Content-Type", "")
    if content_type.startswith("multipart/"):
        payload: Any = None
        files = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                payload = json.loads(data)
            else:
                files.append(
                    UploadedFile(
                        part.name or "",
                        part.filename or "",  # type: ignore[union-attr]
                        part.headers.get("Content-Type", ""),
                        bytes(data),
                    )
                )  # type: ignore[union-attr]
        return payload, files
    if request.can_read_body:
        raw = await request.read()
        try:
            return json.loads(raw) if raw else None, []
        except ValueError:
            return raw.decode("utf-8", "replace"), []
    return None, []


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when the content type is exactly application/json.
    return web.Response(
        status=status,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
