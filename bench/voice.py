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
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench._support import bot_process, local_discord, sandbox_process, sandbox_stats, summary
from tests.fakes.discord_server import ALICE, FakeDiscord
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


async def main(args: argparse.Namespace) -> None:
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
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    asyncio.run(main(parser.parse_args()))
