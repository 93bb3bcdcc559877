"""Many voice jams from one process: CPU per playing jam, and the most jams with no underrun
and no late packet.

    .venv/bin/python -m bench.jams [--counts 10,25,50,75] [--length 20] [--core 0]

Each jam is the bot's own `Jam` (bot/core/jam.py) playing one track through the bot's
`VoiceSpeaker` over discord.py's VoiceClient and AudioPlayer: the API's MP3 streamed from the
sandbox (its own process, `--fast-render`, each `--length` s track sent over half its length),
decoded as it arrives, Opus-encoded, end-to-end encrypted by a ready DAVE session (`davey`,
its group made with the test's external sender) and by the transport
(`aead_xchacha20_poly1305_rtpsize`), and sent over UDP to a sink in another process, which
records when each packet arrived. What is left out: the voice and main gateways (their
handshakes happen once per jam; heartbeats are negligible), the Composer's database rows
and the now-playing message (one edit per 10 s). The bot's process is pinned to `--core`.

For each count: the process's CPU while every jam plays (user + system, per jam and in
all), frames the players had to fill with silence (underruns), and packets more than one
frame late at the sink.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import davey
import discord

from bench._support import API_KEY, ROOT, sandbox_process
from bot.core.composer import ComposeJob
from bot.core.jam import Jam, JamEntry
from bot.music import MusicClient, build_request
from bot.music.client import StreamInfo
from bot.voice import VoiceSpeaker, voice_problem
from tests.fakes.dave import ExternalSender, Listener, proposals_payload, split_commit_welcome

BOT_ID = 1100000000000000010
MODE = "aead_xchacha20_poly1305_rtpsize"


class _Connection:
    """What discord.py's VoiceClient needs of its connection state once connected."""

    def __init__(self, sink_port: int, ssrc: int, dave: Any) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.connect(("127.0.0.1", sink_port))
        self.ssrc = ssrc
        self.secret_key = list(os.urandom(32))
        self.mode = MODE
        self.dave_session = dave
        self.can_encrypt = True
        self.timeout = 10.0
        self.ws = SimpleNamespace(speak=_speak)

    def is_connected(self) -> bool:
        return True

    def send_packet(self, packet: bytes) -> None:
        self.socket.send(packet)


async def _speak(*_: Any) -> None:
    return None


class ConnectedVoiceClient(discord.VoiceClient):
    """discord.py's VoiceClient, its handshake done: the same player, encoder and encryption."""

    def __init__(self, loop: asyncio.AbstractEventLoop, connection: _Connection) -> None:
        self.loop = loop
        self.client = SimpleNamespace(loop=loop)  # type: ignore[assignment]
        self.channel = SimpleNamespace(bitrate=96_000)  # type: ignore[assignment]
        self.sequence = 0
        self.timestamp = 0
        self._player = None
        self.encoder = discord.utils.MISSING
        self._incr_nonce = 0
        self._connection = connection  # type: ignore[assignment]


def ready_dave(channel_id: int) -> Any:
    """A bot DAVE session with its MLS group made (one listener), ready to encrypt."""
    sender = ExternalSender()
    session = davey.DaveSession(1, BOT_ID, channel_id)
    session.set_external_sender(sender.package)
    listener = Listener.new(BOT_ID + 1, channel_id, sender)
    add = sender.add(struct.pack(">Q", channel_id), 0, listener.key_package)
    result = session.process_proposals(
        davey.ProposalsOperationType.append, proposals_payload(add)[1:]
    )
    commit, _welcome = split_commit_welcome(bytes(result.commit) + bytes(result.welcome))
    session.process_commit(commit)
    assert session.ready
    return session


class StreamingComposer:
    """The Composer's `streaming`, without its database: straight to the API."""

    def __init__(self, music: MusicClient) -> None:
        self._music = music

    @contextlib.asynccontextmanager
    async def streaming(
        self, job: ComposeJob, listener: Any = None, info: StreamInfo | None = None
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        yield self._music.stream(job.request, output_format=job.output_format, info=info)


class NoScreen:
    async def now_playing(self, jam: Jam, entry: JamEntry) -> None:
        await asyncio.shield(entry.played)


class NoListener:
    async def queued(self, position: int) -> None:
        return None

    async def started(self) -> None:
        return None


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run_count(count: int, url: str, sink_port: int, args: argparse.Namespace) -> str:
    loop = asyncio.get_running_loop()
    music = MusicClient(API_KEY, base_url=url, max_connections=count + 4)
    composer = StreamingComposer(music)
    jams, clients = [], []
    for n in range(count):
        channel_id = 1_200_000_000_000_000_000 + n
        connection = _Connection(sink_port, 1000 + n, ready_dave(channel_id))
        client = ConnectedVoiceClient(loop, connection)
        clients.append(client)
        jams.append(
            Jam(
                VoiceSpeaker(client),
                NoScreen(),
                guild_id=n,
                voice_channel_id=channel_id,
                text_channel_id=channel_id,
                starter_id=BOT_ID + 2,
                composer=composer,  # type: ignore[arg-type]
            )
        )
    generation = args.length / 2
    plays = []
    for n, jam in enumerate(jams):
        request = build_request(
            prompt=f"jams {n} lofi fault:pace:{generation}", length_s=args.length
        )
        job = ComposeJob(
            id=f"job-{n}",
            guild_id=n,
            user_id=BOT_ID + 2,
            channel_id=n,
            prompt="lofi",
            length_s=args.length,
            instrumental=False,
            request=request,
            output_format="mp3_44100_128",
        )
        plays.append(asyncio.create_task(jam.play(job, NoListener())))  # type: ignore[arg-type]
    # Measured while every jam plays: from 3 s in to 3 s before the end.
    await asyncio.sleep(3.0)
    entries = [jam.current for jam in jams]
    underruns_before = sum(e.fifo.underruns for e in entries if e and e.fifo)
    cpu_before, wall_before = cpu_seconds(), time.monotonic()
    await asyncio.sleep(args.length - 6.0)
    cpu = cpu_seconds() - cpu_before
    wall = time.monotonic() - wall_before
    underruns = sum(e.fifo.underruns for e in entries if e and e.fifo) - underruns_before
    playing = sum(1 for c in clients if c.is_playing())
    tracks = await asyncio.gather(*plays, return_exceptions=True)
    failures = [t for t in tracks if isinstance(t, BaseException)]
    for track in tracks:
        if not isinstance(track, BaseException):
            track.close()
    encrypted = sum(c._connection.dave_session.get_encryption_stats().successes for c in clients)
    for client in clients:
        client._connection.socket.close()
    await music.aclose()
    return (
        f"{count:4d} jams: CPU {100 * cpu / wall:6.1f} % of a core, "
        f"{1000 * cpu / wall / count:5.1f} ms/s per jam; playing {playing}/{count}; "
        f"underrun frames {underruns}; DAVE frames {encrypted}; failed {len(failures)}"
    )


async def main(args: argparse.Namespace) -> None:
    problem = await asyncio.to_thread(voice_problem)
    if problem:
        sys.exit(problem)
    async with sandbox_process(fast_render=True) as url:
        # The sandbox (started first) may use every core; the bot's process only `--core`.
        os.sched_setaffinity(0, {args.core})
        others = (os.sched_getaffinity(0) ^ set(range(os.cpu_count() or 1))) or {args.core}
        for count in (int(c) for c in args.counts.split(",")):
            sink = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench._voice_sink",
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
            assert sink.stdin is not None and sink.stdout is not None
            os.sched_setaffinity(sink.pid, others)
            port = int((await sink.stdout.readline()).decode())
            line = await run_count(count, url, port, args)
            sink.stdin.close()
            stats = json.loads((await sink.stdout.readline()).decode())
            await sink.wait()
            late = sum(int(s["late"]) for s in stats.values())
            worst = max((float(s["worst_ms"]) for s in stats.values()), default=0.0)
            print(f"{line}; late packets {late} (worst {worst:.0f} ms)", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="10,25,50,75")
    parser.add_argument("--length", type=int, default=20, help="seconds of each jam's track")
    parser.add_argument("--core", type=int, default=0, help="the CPU the bot's process runs on")
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    asyncio.run(main(parser.parse_args()))
