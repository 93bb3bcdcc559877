"""Command line: `python -m bot run | sync | compose | sandbox | health`."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

import httpx

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.music import (
    BadCompositionPlan,
    BadPrompt,
    ChunkPlan,
    ComposeRequest,
    InvalidInput,
    MusicClient,
    MusicError,
    RateLimited,
    build_request,
)
from bot.music.models import (
    LENGTH_MAX_MS,
    LENGTH_MIN_MS,
    OUTPUT_FORMATS,
    SEED_MAX,
    ModelId,
    OutputFormat,
)
from bot.music.plan_files import plan_from_json
from bot.music.plans import Plan
from bot.sandbox import DEFAULT_API_KEY

log = logging.getLogger("bot")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


# -- compose ------------------------------------------------------------------------------------


DEFAULT_OUT = "track.mp3"
DEFAULT_LENGTH_S = 30.0


class CliError(Exception):
    """A mistake in what was asked, said in the command line's terms (options, seconds)."""


def _length_seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def _check_options(args: argparse.Namespace) -> None:
    """Everything about the options alone, before any file is read or anything is sent."""
    if args.prompt is not None and args.plan is not None:
        raise CliError("give a prompt or --plan, not both")
    if args.prompt is None and args.plan is None:
        raise CliError("give a prompt to compose, or --plan FILE")
    if args.plan is not None:
        if args.length is not None:
            raise CliError("--length does not go with --plan: a plan sets its own length")
        if args.instrumental:
            raise CliError("--instrumental only goes with a prompt, not with --plan")
    else:
        length = DEFAULT_LENGTH_S if args.length is None else args.length
        if not LENGTH_MIN_MS <= round(length * 1000) <= LENGTH_MAX_MS:
            raise CliError(
                f"--length {length:g}: a track lasts {LENGTH_MIN_MS // 1000} to "
                f"{LENGTH_MAX_MS // 1000} seconds"
            )
        if args.seed is not None:
            raise CliError(
                "--seed: a seed only goes with a composition plan (--plan), not a prompt"
            )
    if args.seed is not None and not 0 <= args.seed <= SEED_MAX:
        raise CliError(f"--seed must be 0 to {SEED_MAX}")
    if args.format not in OUTPUT_FORMATS:
        raise CliError(
            f"--format {args.format} is not an output format; use one of "
            + ", ".join(OUTPUT_FORMATS)
        )


def _output_path(given: str | None) -> Path:
    """Where the track will go, checked before anything is spent. A file named with --out may
    be replaced; the default never is: track-2.mp3, track-3.mp3 … is used instead."""
    out = Path(given or DEFAULT_OUT)
    if given is None:
        stem, suffix, number = out.stem, out.suffix, 2
        while out.exists():
            out = out.with_name(f"{stem}-{number}{suffix}")
            number += 1
    folder = out.parent
    if out.is_dir():
        raise CliError(f"cannot write {out}: it is a folder")
    if not folder.exists():
        raise CliError(f"cannot write {out}: there is no folder {folder}")
    if not folder.is_dir():
        raise CliError(f"cannot write {out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise CliError(f"cannot write {out}: permission denied")
    return out


def _read_plan(path: str) -> Plan:
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the plan {path}: {exc.strerror}") from None
    try:
        return plan_from_json(text)
    except InvalidInput as exc:
        raise CliError(f"{path}: {exc.message}") from None


def _model_for(args: argparse.Namespace, plan: Plan | None, settings: Settings) -> ModelId:
    """--model, else the plan's own shape decides (sections: music_v1; chunks: music_v2 or the
    configured v2 model), else MUSIC_MODEL_ID."""
    if args.model is not None:
        model: ModelId = args.model
        if plan is not None and isinstance(plan, ChunkPlan) != (model != "music_v1"):
            shape = "chunks" if model != "music_v1" else "sections"
            raise CliError(f"--model {model} takes a plan made of `{shape}`; {args.plan} is not")
        return model
    if plan is None:
        return settings.music_model_id
    if isinstance(plan, ChunkPlan):
        return "music_v2" if settings.music_model_id == "music_v1" else settings.music_model_id
    return "music_v1"


def _in_user_terms(message: str) -> str:
    """What the request's checks say, with the option names a user typed."""
    for field, option in (
        ("prompt: ", "the prompt "),
        ("music_length_ms", "--length"),
        ("force_instrumental", "--instrumental"),
        ("composition_plan", "the plan"),
        ("model_id", "--model"),
    ):
        message = message.replace(field, option)
    return message


def _prepare(
    args: argparse.Namespace, settings: Settings
) -> tuple[ComposeRequest, OutputFormat, Path]:
    _check_options(args)
    out = _output_path(args.out)
    plan = _read_plan(args.plan) if args.plan is not None else None
    length = DEFAULT_LENGTH_S if args.length is None else args.length
    try:
        request = build_request(
            prompt=args.prompt,
            plan=plan,
            length_s=length if plan is None else None,
            model_id=_model_for(args, plan, settings),
            force_instrumental=args.instrumental or None,
            seed=args.seed,
        )
    except InvalidInput as exc:
        raise CliError(_in_user_terms(exc.message)) from None
    output_format: OutputFormat = args.format
    return request, output_format, out


async def _compose(args: argparse.Namespace, settings: Settings) -> int:
    try:
        request, output_format, out = _prepare(args, settings)
    except CliError as exc:
        return _fail(str(exc))
    if settings.elevenlabs_api_key is None:
        return _fail(
            "ELEVENLABS_API_KEY is not set. For the local sandbox run `python -m bot sandbox` "
            f"and set ELEVENLABS_API_KEY={DEFAULT_API_KEY} "
            "ELEVENLABS_BASE_URL=http://127.0.0.1:8765"
        )
    async with MusicClient(
        settings.elevenlabs_api_key, base_url=settings.elevenlabs_base_url
    ) as client:
        try:
            if args.detailed:
                track = await client.compose_detailed(request, output_format=output_format)
            else:
                track = await client.compose(request, output_format=output_format)
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
        first_byte_delay=args.first_byte_delay,
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


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints on one line (no usage dump): a start-up failure is one
    line on stderr."""

    def error(self, message: str) -> NoReturn:
        message = message.replace("argument ", "", 1)
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description=__doc__)
    verbs = parser.add_subparsers(dest="verb", required=True)

    run = verbs.add_parser("run", help="start the Discord bot")
    run.add_argument(
        "--sandbox",
        action="store_true",
        help="compose with a built-in local sandbox instead of the ElevenLabs API",
    )

    sync = verbs.add_parser("sync", help="register the slash commands with Discord")
    sync.add_argument("--guild", type=int, help="register in one server only (instant)")

    compose = verbs.add_parser(
        "compose",
        help="compose one track from the command line",
        description="Compose one track from a prompt or a composition plan and save it. "
        "Every option is checked before anything is sent (or paid for).",
    )
    compose.add_argument("prompt", nargs="?", help="what to compose")
    compose.add_argument(
        "--length",
        type=_length_seconds,
        metavar="SECONDS",
        help=f"length of a prompted track, {LENGTH_MIN_MS // 1000} to "
        f"{LENGTH_MAX_MS // 1000} seconds (default {DEFAULT_LENGTH_S:g}); not with --plan, "
        "as a plan sets its own length",
    )
    compose.add_argument(
        "--out",
        metavar="FILE",
        help=f"where to save the track (its folder must exist). Default {DEFAULT_OUT}; if that "
        "file exists, track-2.mp3, track-3.mp3 … is used instead, so no track is ever "
        "overwritten unless you name it with --out",
    )
    compose.add_argument(
        "--plan",
        metavar="FILE",
        help="a composition plan (a JSON file: an object with `sections` for music_v1 or "
        "`chunks` for music_v2) instead of a prompt",
    )
    compose.add_argument("--detailed", action="store_true", help="also print the song metadata")
    compose.add_argument(
        "--format",
        default="mp3_44100_128",
        metavar="FORMAT",
        help="output format (default mp3_44100_128), one of: " + ", ".join(OUTPUT_FORMATS),
    )
    compose.add_argument(
        "--model",
        choices=["music_v1", "music_v2", "music_v2_5"],
        help="default: a plan's own shape, else MUSIC_MODEL_ID",
    )
    compose.add_argument("--seed", type=int, help=f"0 to {SEED_MAX}; with --plan only")
    compose.add_argument("--instrumental", action="store_true", help="no vocals (prompts only)")

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
    sandbox.add_argument(
        "--first-byte-delay",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long before answering each generation (the API's time to first byte)",
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
