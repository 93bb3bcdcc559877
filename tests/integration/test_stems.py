"""Stem separation: the MusicClient against the sandbox's /v1/music/stem-separation."""

from __future__ import annotations

import time

import pytest

from bot.music import InvalidRequest, MusicClient, build_request
from tests.audio import dominant_hz, mp3_seconds, rms


async def composed(music: MusicClient, seconds: int = 6) -> bytes:
    with await music.compose(build_request(prompt="rock piano", length_s=seconds)) as track:
        return await track.audio.read()


async def test_six_stems_are_the_voices_of_the_song(music: MusicClient) -> None:
    song = await composed(music)
    started = time.monotonic()
    stems = await music.separate_stems(song, variation="six_stems_v1")
    print(f"six stems of a 6 s song in {time.monotonic() - started:.2f} s")
    assert [s.name for s in stems] == ["vocals", "drums", "bass", "guitar", "piano", "other"]
    by_name = {s.name: s.audio for s in stems}
    for stem in stems:
        assert mp3_seconds(stem.audio) == pytest.approx(6.0, abs=0.2)
    # The kick drum is a 55 Hz thump, the bass two octaves under the melody's register.
    assert dominant_hz(by_name["drums"]) == pytest.approx(55, abs=3)
    assert 60 < dominant_hz(by_name["bass"]) < 130
    assert dominant_hz(by_name["vocals"]) > 250
    for silent in ("guitar", "piano", "other"):
        assert rms(by_name[silent]) < 1.0, f"{silent}: the render has no such instrument"


async def test_two_stems_split_vocals_from_accompaniment(music: MusicClient) -> None:
    song = await composed(music)
    stems = await music.separate_stems(song, variation="two_stems_v1")
    assert [s.name for s in stems] == ["vocals", "accompaniment"]
    vocals, accompaniment = (s.audio for s in stems)
    assert dominant_hz(vocals) > 250 and dominant_hz(accompaniment) < 130
    assert rms(vocals) > 100 and rms(accompaniment) > 100


async def test_separation_errors_map_like_every_call(music: MusicClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await music.separate_stems(b"ID3 not a song the sandbox rendered")
    assert caught.value.status_code == 422
