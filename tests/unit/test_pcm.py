"""The PCM hand-over between the stream and the player thread, and the MP3 made of it."""

from __future__ import annotations

import asyncio
import threading
from array import array

from bot.music.pcm import (
    FRAME_SAMPLES,
    SILENCE,
    STEREO_FRAME_BYTES,
    PcmFifo,
    to_stereo,
)

MONO_FRAME = FRAME_SAMPLES * 2


def tone(frames: int, value: int = 1000) -> bytes:
    return array("h", [value] * (FRAME_SAMPLES * frames)).tobytes()


def test_mono_becomes_stereo_sample_by_sample() -> None:
    stereo = array("h", to_stereo(array("h", [1, -2, 3]).tobytes(), 1))
    assert list(stereo) == [1, 1, -2, -2, 3, 3]
    assert to_stereo(b"\x01\x00\x02\x00", 2) == b"\x01\x00\x02\x00"


async def test_an_underrun_is_one_frame_of_silence_and_the_end_is_empty() -> None:
    fifo = PcmFifo(1)
    assert fifo.read_frame() == SILENCE, "nothing yet: silence, at once"
    await fifo.push(tone(1) + tone(1)[: MONO_FRAME // 2])
    frame = fifo.read_frame()
    assert len(frame) == STEREO_FRAME_BYTES and frame != SILENCE
    assert fifo.read_frame() == SILENCE, "half a frame waits for the rest"
    fifo.finish()
    last = fifo.read_frame()
    assert len(last) == STEREO_FRAME_BYTES, "padded to a whole frame"
    assert last[STEREO_FRAME_BYTES // 2 :] == bytes(STEREO_FRAME_BYTES // 2)
    assert fifo.read_frame() == b""
    assert (fifo.frames_played, fifo.underruns) == (2, 2)


async def test_the_stream_waits_when_the_player_is_far_behind() -> None:
    fifo = PcmFifo(1, ahead_seconds=0.1)  # five frames
    await fifo.push(tone(5))
    blocked = asyncio.create_task(fifo.push(tone(1)))
    await asyncio.sleep(0)
    assert not blocked.done(), "over the limit: the stream waits"
    # The player thread makes room, and wakes the loop.
    await asyncio.to_thread(fifo.read_frame)
    await asyncio.wait_for(blocked, 1)


async def test_a_detached_fifo_never_blocks_the_stream() -> None:
    fifo = PcmFifo(1, ahead_seconds=0.02)
    await fifo.push(tone(1))
    blocked = asyncio.create_task(fifo.push(tone(1)))
    await asyncio.sleep(0)
    fifo.detach()
    await asyncio.wait_for(blocked, 1)
    await fifo.push(tone(10))
    assert fifo.read_frame() == b"", "nobody plays it"


async def test_the_player_thread_reads_while_the_loop_pushes() -> None:
    fifo = PcmFifo(1, ahead_seconds=0.1)
    frames: list[bytes] = []

    def player() -> None:
        while (frame := fifo.read_frame()) != b"":
            if frame != SILENCE:
                frames.append(frame)

    thread = threading.Thread(target=player)
    thread.start()
    for value in range(1, 51):
        await fifo.push(tone(1, value))
    fifo.finish()
    await asyncio.to_thread(thread.join)
    firsts = [array("h", f)[0] for f in frames]
    assert firsts == list(range(1, 51)), "every frame, once, in order"
