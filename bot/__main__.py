"""Command line: `python -m bot run | sync | compose | sandbox | health`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.music import (
    BadCompositionPlan,
    BadPrompt,
    InvalidInput,
    MusicClient,
    MusicError,
    RateLimited,
    build_request,
    parse_plan,
)
from bot.sandbox import DEFAULT_API_KEY

log = logging.getLogger("bot")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


# -- compose ------------------------------------------------------------------------------------


async def _compose(args: argparse.Namespace, settings: Settings) -> int:
    if settings.elevenlabs_api_key is None:
        return _fail(
            "ELEVENLABS_API_KEY is not set. For the local sandbox run `python -m bot sandbox` "
            f"and set ELEVENLABS_API_KEY={DEFAULT_API_KEY} "
            "ELEVENLABS_BASE_URL=http://127.0.0.1:8765"
        )
    plan = None
    if args.plan is not None:
        try:
            plan = parse_plan(await asyncio.to_thread(Path(args.plan).read_text, "utf-8"))
        except (OSError, ValueError) as exc:
            return _fail(f"cannot read the plan {args.plan}: {str(exc).splitlines()[0]}")
    try:
        request = build_request(
            prompt=args.prompt,
            plan=plan,
            length_s=args.length if plan is None else None,
            model_id=args.model or settings.music_model_id,
            force_instrumental=args.instrumental or None,
            seed=args.seed,
        )
    except InvalidInput as exc:
        return _fail(exc.message)

    out = Path(args.out)
    async with MusicClient(
        settings.elevenlabs_api_key, base_url=settings.elevenlabs_base_url
    ) as client:
        try:
            if args.detailed:
                track = await client.compose_detailed(request, output_format=args.format)
            else:
                track = await client.compose(request, output_format=args.format)
        except BadPrompt as exc:
            print(f"The prompt was refused: {exc.message}", file=sys.stderr)
            print(f"Suggested prompt: {exc.prompt_suggestion}", file=sys.stderr)
            return 3
        except BadCompositionPlan as exc:
            print(f"The plan was refused: {exc.message}", file=sys.stderr)
            print("Suggested plan:", file=sys.stderr)
            print(json.dumps(exc.plan_suggestion, indent=2), file=sys.stderr)
            return 3
        except RateLimited as exc:
            wait = f" Try again in {exc.retry_after:g} s." if exc.retry_after else ""
            return _fail(f"{exc.message}.{wait}")
        except MusicError as exc:
            return _fail(exc.message)
        with track:
            try:
                await track.audio.save(out)
            except OSError as exc:
                return _fail(f"cannot write {out}: {exc.strerror}")
    print(f"wrote {out} ({track.size:,} bytes, {track.content_type})")
    if track.metadata is not None:
        print(json.dumps(track.metadata.to_wire(), indent=2))
    return 0


# -- sandbox ------------------------------------------------------------------------------------


async def _sandbox(args: argparse.Namespace) -> int:
    from bot.sandbox.server import Sandbox, serve

    sandbox = Sandbox(
        api_key=args.api_key,
        copyright_status=args.copyright_status,
        fast_render=args.fast_render,
    )
    try:
        runner, url = await serve(sandbox, args.host, args.port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror}")
    print(f"Eleven Music sandbox listening on {url}", flush=True)
    print(
        f"Point the bot at it with:\n  ELEVENLABS_BASE_URL={url}\n"
        f"  ELEVENLABS_API_KEY={args.api_key}\n"
        "Faults: put fault:NAME in a prompt (see README). Ctrl+C stops it.",
        flush=True,
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
    return 0


# -- health -------------------------------------------------------------------------------------


def _health(settings: Settings) -> int:
    """Exit 0 when the running bot says it is healthy (for a container HEALTHCHECK)."""
    if settings.metrics_port is None:
        return _fail("METRICS_PORT is not set, so the bot serves no /healthz")
    # A bot listening on every interface is asked over loopback.
    wildcard = {"0.0.0.0", "::"}  # noqa: S104 - compared with, not bound to
    host = "127.0.0.1" if settings.metrics_host in wildcard else settings.metrics_host
    url = f"http://{host}:{settings.metrics_port}/healthz"
    try:
        response = httpx.get(url, timeout=5)
    except httpx.HTTPError as exc:
        return _fail(f"{url}: {type(exc).__name__}")
    print(response.text)
    return 0 if response.status_code == 200 else 1


# -- run and sync -------------------------------------------------------------------------------


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.launcher import run_bot

    return await run_bot(settings, sandbox=args.sandbox)


async def _sync(args: argparse.Namespace, settings: Settings) -> int:
    from bot.launcher import sync_commands

    return await sync_commands(settings, guild_id=args.guild)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    run = verbs.add_parser("run", help="start the Discord bot")
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="compose with a built-in local sandbox instead of the ElevenLabs API",
    )

    sync = verbs.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="register in one server only (instant)")

    compose = verbs.add_parser("compose", help="compose one track from the command line")
    compose.add_argument("prompt", nargs="?", help="what to compose")
    compose.add_argument("--length", type=float, default=30, help="seconds (3-600), default 30")
    compose.add_argument("--out", default="track.mp3", help="output file")
    compose.add_argument("--plan", help="a composition plan (JSON file) instead of a prompt")
    compose.add_argument("--detailed", action="store_true", help="also print the song metadata")
    compose.add_argument("--format", default="mp3_44100_128", help="output format")
    compose.add_argument("--model", choices=["music_v1", "music_v2", "music_v2_5"])
    compose.add_argument("--seed", type=int)
    compose.add_argument("--instrumental", action="store_true")

    verbs.add_parser("health", help="ask the running bot's /healthz (exit 0 when healthy)")

    sandbox = verbs.add_parser("sandbox", help="serve the local music API sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--api-key", default=DEFAULT_API_KEY)
    sandbox.add_argument(
        "--copyright-status",
        type=int,
        choices=[400, 422],
        default=400,
        help="HTTP status of copyright refusals (the API's is unconfirmed)",
    )
    sandbox.add_argument(
        "--fast-render",
        action="store_true",
        help="the same audio for every request of a length, rendered once (load tests)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        return _fail(str(exc))
    secrets = [
        s.get_secret_value() for s in (settings.discord_token, settings.elevenlabs_api_key) if s
    ]
    setup_logging(settings.log_level, settings.log_format, secrets=secrets)
    if args.verb == "health":
        return _health(settings)
    try:
        if args.verb == "sandbox":
            return asyncio.run(_sandbox(args))
        if args.verb == "compose":
            return asyncio.run(_compose(args, settings))
        if args.verb == "run":
            return asyncio.run(_run(args, settings))
        return asyncio.run(_sync(args, settings))
    except ConfigError as exc:
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
