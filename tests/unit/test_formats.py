from __future__ import annotations

import asyncio

import pytest

from bot.core.formats import (
    IMAGE_ROOM,
    UploadBudget,
    estimated_mp3_bytes,
    longest_fitting_seconds,
    pick_output_format,
    track_filename,
)
from bot.core.orders import ComposeOrder, check_order
from bot.ui.text import refusal
from bot.ui.waveform import IMAGE_MAX_BYTES

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("seconds", "limit", "expected"),
    [
        (600, 10 * MIB, "mp3_44100_128"),  # 9.4 MiB with margin: fits an unboosted server
        (600, 9 * MIB, "mp3_44100_96"),
        (600, 5 * MIB, "mp3_44100_64"),
        (600, 4 * MIB, None),
        (5, 1 * MIB, "mp3_44100_128"),
    ],
)
def test_best_format_that_fits(seconds: int, limit: int, expected: str | None) -> None:
    assert pick_output_format(seconds, limit) == expected


def test_longest_fitting_is_consistent_with_the_pick() -> None:
    limit = 2 * MIB
    longest = longest_fitting_seconds(limit)
    assert pick_output_format(longest, limit) is not None
    assert pick_output_format(longest + 1, limit) is None
    assert estimated_mp3_bytes(600, 192) > 10 * MIB, "10 min at 192 kbps does not fit 10 MiB"


@pytest.mark.parametrize(
    ("title", "prompt", "expected"),
    [
        ("Lofi Beat", "whatever", "lofi-beat.mp3"),
        (None, "Café del Mar — chill/../../etc", "cafe-del-mar-chill-etc.mp3"),
        ("", "@everyone <@123> **x**", "everyone-123-x.mp3"),
        (None, "🎵🎶", "track.mp3"),
        (None, "a" * 300, "a" * 60 + ".mp3"),
    ],
)
def test_filenames_are_safe(title: str | None, prompt: str, expected: str) -> None:
    assert track_filename(title, prompt) == expected


@pytest.mark.parametrize(
    ("prompt", "length", "problem"),
    [
        ("lofi", 5, None),
        ("", 5, "empty"),
        ("\n\t ", 5, "empty"),
        ("x" * 4101, 5, "4,100"),
        ("lofi", 2, "between 3 and 600"),
        ("lofi", 601, "between 3 and 600"),
    ],
)
def test_orders_are_checked_with_a_reason(prompt: str, length: int, problem: str | None) -> None:
    result = check_order(ComposeOrder(prompt, length), "music_v1")
    said = refusal(result) if result is not None else None
    assert (said is None) if problem is None else (problem in (said or ""))


async def test_upload_budget_counts_bytes_not_uploads() -> None:
    budget = UploadBudget(100)
    inside: list[str] = []
    entered = {name: asyncio.Event() for name in ("small0", "small1", "small2", "big")}
    release = asyncio.Event()

    async def upload(name: str, size: int) -> None:
        async with budget.hold(size):
            inside.append(name)
            entered[name].set()
            await release.wait()

    small = [asyncio.create_task(upload(f"small{n}", 30)) for n in range(3)]
    big = asyncio.create_task(upload("big", 500))
    # Tasks start in order, so once the three small ones are in, the big one has asked too.
    await asyncio.gather(*(entered[f"small{n}"].wait() for n in range(3)))
    assert inside == ["small0", "small1", "small2"], "three fit at once; the big one waits"
    release.set()
    await entered["big"].wait()
    await asyncio.gather(*small, big)
    assert inside[-1] == "big", "larger than the budget: it runs once all of it is free"


def test_room_is_kept_beside_the_mp3_for_its_waveform_image() -> None:
    exact = estimated_mp3_bytes(300, 128)
    assert pick_output_format(300, exact) == "mp3_44100_96", "the image would not fit"
    assert pick_output_format(300, exact + IMAGE_ROOM) == "mp3_44100_128"
    assert IMAGE_ROOM == IMAGE_MAX_BYTES
