from __future__ import annotations

import pytest

from bot.music import ChunkPlan, InvalidInput, MusicPrompt, build_request, parse_plan
from bot.music.models import mp3_bitrate_kbps


def test_camel_case_in_snake_case_out() -> None:
    plan = parse_plan(
        {
            "positiveGlobalStyles": ["pop"],
            "negativeGlobalStyles": [],
            "sections": [
                {
                    "sectionName": "Verse",
                    "positiveLocalStyles": [],
                    "negativeLocalStyles": [],
                    "durationMs": 10000,
                    "lines": ["hello"],
                }
            ],
        }
    )
    assert isinstance(plan, MusicPrompt)
    wire = plan.to_wire()
    assert wire["positive_global_styles"] == ["pop"]
    assert wire["sections"][0]["duration_ms"] == 10000
    assert "durationMs" not in str(wire)


def test_plan_shapes_are_told_apart_by_keys() -> None:
    v2 = parse_plan(
        '{"chunks": [{"text": "[Verse]", "duration_ms": 5000, "positive_styles": []},'
        ' {"song_id": "abc", "range": {"start_ms": 0, "end_ms": 4000}}]}'
    )
    assert isinstance(v2, ChunkPlan)
    assert v2.duration_ms == 9000


def test_unknown_fields_survive_a_round_trip() -> None:
    plan = parse_plan({"sections": [{"section_name": "A", "duration_ms": 3000, "new_field": 1}]})
    assert plan.to_wire()["sections"][0]["new_field"] == 1


@pytest.mark.parametrize(
    "plan",
    [
        {"sections": []},
        {"sections": [{"section_name": "A", "duration_ms": 120_001}]},
        {"sections": [{"section_name": "", "duration_ms": 3000}]},
        {"sections": [{"section_name": "A", "duration_ms": 100_000}] * 7},
        {"sections": [{"section_name": "A", "duration_ms": 3000}] * 31},
        {"chunks": [{"song_id": "x", "range": {"start_ms": 10, "end_ms": 5}}]},
    ],
)
def test_plan_limits(plan: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        build_request(plan=plan)


def test_request_body_uses_wire_names_and_omits_unset() -> None:
    body = build_request(prompt="lofi", length_s=12.5, force_instrumental=True).body()
    assert body == {
        "prompt": "lofi",
        "music_length_ms": 12500,
        "model_id": "music_v2_5",
        "force_instrumental": True,
    }


def test_invalid_input_message_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="music_length_ms"):
        build_request(prompt="lofi", length_s=1)


def test_mp3_bitrate() -> None:
    assert mp3_bitrate_kbps("mp3_44100_128") == 128
    assert mp3_bitrate_kbps("pcm_44100") is None
