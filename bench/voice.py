"""Time to first audio in a voice jam, side by side with a bot that downloads, then plays.

    .venv/bin/python -m bench.voice [--length 10] [--generation 10] [--runs 5]

For each bot (`python -m bot run` with `/jam start`, and `bench/naive_voice_bot.py`, which
collects the SDK's whole answer before playing it), against the same local Discord, local voice
server (TLS, UDP, the real encryption) and the sandbox in its own process, streaming each
`--length` s track over `--generation` s like a generation in progress (`fault:pace`):

- command -> first audio: from the slash command to the first audio packet reaching the voice
  server (the kernel's arrival time); one unmeasured track first warms each bot up;
- API first byte -> first audio: from the sandbox sending the track's first byte to that packet
  (the target: within 0.5 s).

    .venv/bin/python -m bench.voice --gap [--first-byte 2] [--runs 5]

The silence members hear between two consecutive tracks of a jam (Alice's, then Bob's, both
queued at once), for the bot as it is (the next stream starts while a track plays) and for the
bot with `JAM_PREFETCH_SECONDS=0` (the next stream asked for once the previous track ends), the
sandbox waiting `--first-byte` seconds before answering each generation.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import tempfile
import time
from pathlib import Path

from bench._support import bot_process, local_discord, sandbox_process, sandbox_stats, summary
from tests.fakes.discord_server import ALICE, BOB, FakeDiscord
from tests.fakes.tls import make_test_ca
from tests.fakes.voice_server import VoiceServer


async def jam_runs(
    fake: FakeDiscord, voice: VoiceServer, url: str, kind: str, args: argparse.Namespace
) -> dict[str, list[float]]:
    result: dict[str, list[float]] = {"command": [], "first_byte": []}
    start = await fake.slash(ALICE, "jam", "start", {})
    await fake.wait_for(
        lambda: (m := fake.original(start)) and "Jam started" in m["content"], timeout=60
    )
    # Kernel packet times are UNIX time; the sandbox's are monotonic (both system-wide).
    unix_minus_monotonic = time.time() - time.monotonic()
    # The first track warms the bot up (connections, caches) and is not counted.
    for run in range(-1, args.runs):
        prompt = f"bench {kind} {run} lofi fault:pace:{args.generation}"
        sent = len(voice.packets)
        asked = time.monotonic()
        await fake.slash(ALICE, "music", "compose", {"prompt": prompt, "length": args.length})
        # Played to its end: the player's closing silence follows the track's last frame.
        await voice.wait_for(
            lambda sent=sent: (
                (heard := voice.packets[sent:])
                and heard[-1].silent
                and any(not p.silent for p in heard)
            ),
            timeout=args.generation + args.length + 60,
        )
        first_audio = voice.audio_packets_since(sent)[0].at - unix_minus_monotonic
        stats = await sandbox_stats(url)
        (request,) = [r for r in stats["requests"] if r["prompt"] == prompt]
        if run >= 0:
            result["command"].append(first_audio - asked)
            result["first_byte"].append(first_audio - request["first_byte"])
    return result


async def gap_runs(fake: FakeDiscord, voice: VoiceServer, args: argparse.Namespace) -> list[float]:
    """The longest silence between consecutive frames with sound while two tracks play."""
    start = await fake.slash(ALICE, "jam", "start", {})
    await fake.wait_for(
        lambda: (m := fake.original(start)) and "Jam started" in m["content"], timeout=60
    )
    gaps = []
    for run in range(args.runs):
        sent = len(voice.packets)
        for member in (ALICE, BOB):
            prompt = f"gap {run} {member.name} lofi fault:pace:{args.generation}"
            await fake.slash(member, "music", "compose", {"prompt": prompt, "length": args.length})
        frames = 2 * args.length * 50
        await voice.wait_for(
            lambda sent=sent, frames=frames: (
                (heard := voice.packets[sent:])
                and heard[-1].silent
                and len(voice.audio_packets_since(sent)) >= 0.97 * frames
            ),
            timeout=2 * (args.generation + args.length) + 60,
        )
        arrivals = [p.at for p in voice.audio_packets_since(sent)]
        gaps.append(max(b - a for a, b in itertools.pairwise(arrivals)) - 0.02)
    return gaps


async def gap_main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        ca = make_test_ca(Path(folder))
        async with sandbox_process(first_byte_delay=args.first_byte) as url:
            for label, settings in (
                ("prefetch ", {}),
                ("after-end", {"JAM_PREFETCH_SECONDS": "0"}),
            ):
                async with local_discord() as fake:
                    voice = VoiceServer(ca)
                    await voice.start()
                    fake.voice_server = voice
                    await fake.join_voice(ALICE)
                    await fake.join_voice(BOB)
                    try:
                        async with bot_process(
                            "bot", fake, url, SSL_CERT_FILE=str(ca.ca_file), **settings
                        ):
                            gaps = await gap_runs(fake, voice, args)
                    finally:
                        await voice.stop()
                print(
                    f"[{label}] first byte {args.first_byte:.1f} s: silence between tracks "
                    f"{summary(gaps)}"
                )


async def main(args: argparse.Namespace) -> None:
    if args.gap:
        await gap_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="bench-voice-") as folder:
        ca = make_test_ca(Path(folder))
        async with sandbox_process() as url:
            for kind in ("bot", "naive-voice"):
                async with local_discord() as fake:
                    voice = VoiceServer(ca)
                    await voice.start()
                    fake.voice_server = voice
                    await fake.join_voice(ALICE)
                    try:
                        async with bot_process(kind, fake, url, SSL_CERT_FILE=str(ca.ca_file)):
                            result = await jam_runs(fake, voice, url, kind, args)
                    finally:
                        await voice.stop()
                label = "bot  " if kind == "bot" else "naive"
                print(f"[{label}] command -> first audio       {summary(result['command'])}")
                print(f"[{label}] API first byte -> first audio {summary(result['first_byte'])}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=10, help="seconds of each track (3-600)")
    parser.add_argument("--generation", type=float, default=10, help="seconds to stream it")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--gap", action="store_true", help="measure the silence between tracks")
    parser.add_argument(
        "--first-byte", type=float, default=0.0, help="the sandbox's time to first byte (s)"
    )
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    asyncio.run(main(parser.parse_args()))
