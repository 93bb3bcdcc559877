"""A local Discord voice server: what an unmodified discord.py needs to play, and what it heard.

The voice gateway v8 over TLS (wss://, a test CA): HELLO, IDENTIFY (the token and session the
main gateway handed out), READY with an SSRC and a UDP port, SELECT_PROTOCOL, and a
SESSION_DESCRIPTION with a secret key, `aead_xchacha20_poly1305_rtpsize` and
`dave_protocol_version` 1, as Discord's voice channels have since March 2026: the server plays
Discord's external sender and a listener member of the call decrypts every frame the bot sends
end to end (`tests.fakes.dave`). `VoiceServer(ca, dave=False)` answers 0, as a stage channel
does. Heartbeats and SPEAKING. On UDP: IP discovery, then RTP packets, each checked and
decrypted as Discord (transport) and the listener (DAVE) would, and kept with the moment it
arrived. Decoding the Opus audio is the test's business (`heard_pcm`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import discord
from aiohttp import WSMsgType, web
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt

from tests.fakes.dave import DaveCall, ExternalSender
from tests.fakes.tls import LocalCA

MODE = "aead_xchacha20_poly1305_rtpsize"
# The packet discord.py sends for silence: Opus' three-byte silent frame.
OPUS_SILENCE = b"\xf8\xff\xfe"


@dataclass
class RtpPacket:
    # When the packet reached the machine (the kernel's clock, UNIX seconds).
    at: float
    sequence: int
    timestamp: int
    ssrc: int
    opus: bytes
    # Whether the frame was end-to-end encrypted (DAVE) before the listener decrypted it.
    e2ee: bool = False

    @property
    def silent(self) -> bool:
        return self.opus == OPUS_SILENCE


@dataclass
class VoiceSession:
    """One voice connection the main gateway handed out: who may identify with what."""

    guild_id: int
    user_id: int
    channel_id: int
    session_id: str
    token: str
    max_dave_version: int = 0
    call: DaveCall | None = None
    ssrc: int = 0
    secret_key: bytes = b""
    identified: bool = False
    speaking: list[int] = field(default_factory=list)


class _UdpReceiver(threading.Thread):
    """The voice UDP socket, read in a thread of its own with the kernel's arrival times
    (SO_TIMESTAMPNS): the pace is measured as the packets reached the machine, whatever the
    test's event loop was doing then."""

    def __init__(self, server: VoiceServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(daemon=True, name="voice-udp")
        self.server = server
        self.loop = loop
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = int(self.sock.getsockname()[1])
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                data, ancillary, _, addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except TimeoutError:
                continue
            except OSError:
                return
            arrived = time.time()
            for level, kind, value in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS:
                    seconds, nanoseconds = struct.unpack("qq", value[:16])
                    arrived = seconds + nanoseconds / 1e9
            if len(data) == 74 and data[:2] == b"\x00\x01":
                self.sock.sendto(_discovery_reply(data, addr), addr)
            else:
                self.loop.call_soon_threadsafe(self.server._receive_rtp, data, arrived)


# Linux's socket option for nanosecond receive times (not named by Python's socket module).
_SO_TIMESTAMPNS = 35


def _discovery_reply(request: bytes, addr: tuple[str, int]) -> bytes:
    """IP discovery: the address and port the request came from."""
    (ssrc,) = struct.unpack_from(">I", request, 4)
    reply = bytearray(74)
    struct.pack_into(">HHI", reply, 0, 2, 70, ssrc)
    host = addr[0].encode()
    reply[8 : 8 + len(host)] = host
    struct.pack_into(">H", reply, 72, addr[1])
    return bytes(reply)


class VoiceServer:
    def __init__(self, ca: LocalCA, *, dave: bool = True) -> None:
        self._ca = ca
        self.dave = dave
        self.sender = ExternalSender()
        # Close every IDENTIFY with this code (4017: DAVE required), as Discord would.
        self.refuse_with: int | None = None
        self.identifies = 0
        self.resumes = 0
        self.sessions: dict[str, VoiceSession] = {}
        self.packets: list[RtpPacket] = []
        self.rejected: list[str] = []
        self.identified = asyncio.Event()
        self.endpoint = ""
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._udp: _UdpReceiver | None = None
        self._udp_port = 0
        self._sockets: list[web.WebSocketResponse] = []

    async def start(self) -> str:
        self._udp = _UdpReceiver(self, asyncio.get_running_loop())
        self._udp.start()
        self._udp_port = self._udp.port
        app = web.Application()
        app.router.add_get("/", self._gateway)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self._ca.server_context())
        await site.start()
        port = next(a[1] for a in self._runner.addresses if isinstance(a, tuple))
        self.endpoint = f"127.0.0.1:{port}"
        return self.endpoint

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._udp is not None:
            self._udp.stopping.set()
            await asyncio.to_thread(self._udp.join)
            self._udp.sock.close()

    async def close_connections(self, code: int) -> None:
        """Close every live voice gateway connection with `code`, as Discord may mid-call;
        1006 drops the connection without a close frame (a network blip)."""
        for ws in list(self._sockets):
            if code == 1006:
                transport = ws._req.transport if ws._req is not None else None
                if transport is not None:
                    transport.abort()
            else:
                await ws.close(code=code)

    def hand_out(self, guild_id: int, user_id: int, channel_id: int) -> VoiceSession:
        """A session for the main gateway's VOICE_STATE_UPDATE and VOICE_SERVER_UPDATE."""
        session = VoiceSession(
            guild_id, user_id, channel_id, os.urandom(8).hex(), os.urandom(8).hex()
        )
        self.sessions[session.token] = session
        return session

    @property
    def call(self) -> DaveCall:
        """The end-to-end encrypted call of the latest voice connection."""
        calls = [s.call for s in self.sessions.values() if s.call is not None]
        assert calls, "no DAVE call: the bot has not connected with protocol 1"
        return calls[-1]

    async def wait_for(self, predicate: Any, timeout: float = 20.0) -> Any:
        """Wait until `predicate()` is truthy (re-checked after every packet); return it."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                await self._changed.wait()
            return result

    def audio_packets(self) -> list[RtpPacket]:
        return self.audio_packets_since(0)

    def audio_packets_since(self, index: int) -> list[RtpPacket]:
        """The packets with sound (not Opus' silent frame), from the `index`th packet on."""
        return [p for p in self.packets[index:] if not p.silent]

    # -- the voice gateway --------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        if request.query.get("v") != "8":
            raise web.HTTPBadRequest(text="voice gateway v8 only")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        seq = 0

        async def send(op: int, data: Any) -> None:
            nonlocal seq
            seq += 1
            await ws.send_str(json.dumps({"op": op, "d": data, "seq": seq}))

        async def send_binary(op: int, payload: bytes) -> None:
            nonlocal seq
            seq += 1
            await ws.send_bytes(struct.pack(">HB", seq, op) + payload)

        await send(8, {"heartbeat_interval": 13750.0})
        session: VoiceSession | None = None
        try:
            async for message in ws:
                if message.type == WSMsgType.BINARY and session is not None and session.call:
                    await self._binary(session.call, message.data)
                    await self._notify()
                    continue
                if message.type != WSMsgType.TEXT:
                    continue
                payload = json.loads(message.data)
                op, data = payload["op"], payload.get("d") or {}
                if op == 0:
                    self.identifies += 1
                    session = self._identify(data)
                    if session is None:
                        await ws.close(code=4004, message=b"Authentication failed")
                        break
                    if self.refuse_with is not None:
                        await ws.close(code=self.refuse_with, message=b"E2EE/DAVE required")
                        break
                    await send(
                        2,
                        {
                            "ssrc": session.ssrc,
                            "ip": "127.0.0.1",
                            "port": self._udp_port,
                            "modes": [MODE, "aead_aes256_gcm_rtpsize"],
                            "heartbeat_interval": 1,
                        },
                    )
                elif op == 1 and session is not None:
                    mode = data.get("data", {}).get("mode")
                    if mode != MODE:
                        self.rejected.append(f"mode {mode}")
                        await ws.close(code=4016, message=b"Unknown encryption mode")
                        break
                    session.secret_key = os.urandom(32)
                    version = 1 if self.dave and session.max_dave_version >= 1 else 0
                    if version:
                        session.call = DaveCall(
                            self.sender, session.channel_id, session.user_id, send, send_binary
                        )
                    await send(4, _description(session))
                elif op == 7:
                    # RESUME after a close such as 4015: the same session, keys and SSRC.
                    session = self._resume(data)
                    if session is None:
                        await ws.close(code=4006, message=b"Session no longer valid")
                        break
                    if session.call is not None:
                        session.call.rebind(send, send_binary)
                    await send(9, None)
                elif op == 3:
                    await send(6, {"t": data.get("t")})
                elif op == 5 and session is not None:
                    session.speaking.append(int(data.get("speaking", 0)))
                elif op == 23 and session is not None and session.call is not None:
                    await session.call.transition_ready(int(data["transition_id"]))
                elif op == 31 and session is not None and session.call is not None:
                    session.call.invalid_commit(int(data["transition_id"]))
                await self._notify()
        finally:
            self._sockets.remove(ws)
        return ws

    async def _binary(self, call: DaveCall, data: bytes) -> None:
        """The bot's DAVE frames: `[opcode][payload]`."""
        try:
            if data[0] == 26:
                await call.key_package(data[1:])
            elif data[0] == 28:
                await call.commit_welcome(data[1:])
        except Exception as exc:
            self.rejected.append(f"DAVE op {data[0]}: {exc}")

    def _resume(self, data: dict[str, Any]) -> VoiceSession | None:
        session = self.sessions.get(str(data.get("token")))
        if (
            session is None
            or not session.secret_key
            or data.get("session_id") != session.session_id
            or str(data.get("server_id")) != str(session.guild_id)
        ):
            self.rejected.append("resume")
            return None
        self.resumes += 1
        return session

    def _identify(self, data: dict[str, Any]) -> VoiceSession | None:
        session = self.sessions.get(str(data.get("token")))
        if (
            session is None
            or data.get("session_id") != session.session_id
            or str(data.get("server_id")) != str(session.guild_id)
            or str(data.get("user_id")) != str(session.user_id)
        ):
            self.rejected.append("identify")
            return None
        session.max_dave_version = int(data.get("max_dave_protocol_version") or 0)
        session.ssrc = int.from_bytes(os.urandom(3), "big") + 1
        session.identified = True
        self.identified.set()
        return session

    # -- RTP ----------------------------------------------------------------------------------

    def _receive_rtp(self, data: bytes, arrived: float) -> None:
        if len(data) < 12 + 16 + 4 or data[0] != 0x80 or data[1] != 0x78:
            self.rejected.append("not an RTP voice packet")
            return
        sequence, timestamp, ssrc = struct.unpack_from(">HII", data, 2)
        session = next((s for s in self.sessions.values() if s.ssrc == ssrc), None)
        if session is None or not session.secret_key:
            self.rejected.append(f"unknown ssrc {ssrc}")
            return
        header, nonce = data[:12], data[-4:] + bytes(20)
        try:
            opus = crypto_aead_xchacha20poly1305_ietf_decrypt(
                data[12:-4], header, nonce, session.secret_key
            )
        except Exception:
            self.rejected.append("a packet that does not decrypt")
            return
        e2ee = False
        if session.call is not None:
            frame, e2ee = session.call.decrypt(opus)
            if frame is None:
                self.rejected.append("a frame a listener could not decrypt")
                return
            opus = frame
        self.packets.append(RtpPacket(arrived, sequence, timestamp, ssrc, opus, e2ee))
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


def _description(session: VoiceSession) -> dict[str, Any]:
    """SESSION_DESCRIPTION: the transport key, and DAVE's version (1 when the call has one)."""
    return {
        "mode": MODE,
        "secret_key": list(session.secret_key),
        "dave_protocol_version": 1 if session.call is not None else 0,
    }


def heard_pcm(packets: list[RtpPacket]) -> bytes:
    """Decode the packets' Opus, as a listener's client would: 48 kHz stereo, 16-bit."""
    decoder = discord.opus.Decoder()
    return b"".join(decoder.decode(p.opus, fec=False) for p in packets)
