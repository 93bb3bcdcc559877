"""Plans as sections, edits that stay within the API's limits, and embeds that fit Discord."""

from __future__ import annotations

import pytest

from bot.music import ChunkPlan, InvalidInput, MusicPrompt, SongMetadata, parse_plan
from bot.music import plans as plan_parts
from bot.music.models import AudioRefChunk, GenerationChunk
from bot.ui.embeds import EMBED_TOTAL, FIELD_VALUE, MAX_FIELDS, embed_size, plan_embed, track_embed
from tests.e2e.test_plans import biggest_plan

V1 = MusicPrompt.model_validate(
    {
        "positive_global_styles": ["pop"],
        "negative_global_styles": [],
        "sections": [
            {"section_name": "Intro", "duration_ms": 5000, "lines": []},
            {"section_name": "Verse", "duration_ms": 10000, "lines": ["Hello", "World"]},
        ],
    }
)
V2 = ChunkPlan.model_validate(
    {
        "chunks": [
            {"text": "[Intro]", "duration_ms": 5000, "positive_styles": ["pop"]},
            {
                "text": "[Verse]\nHello\nWorld",
                "duration_ms": 10000,
                "positive_styles": ["pop"],
                "context_adherence": "low",
            },
        ]
    }
)


@pytest.mark.parametrize("plan", [V1, V2], ids=["v1", "v2"])
def test_sections_read_the_same_from_either_shape(plan: MusicPrompt | ChunkPlan) -> None:
    found = plan_parts.sections(plan)
    assert [(s.name, s.duration_ms, s.lines) for s in found] == [
        ("Intro", 5000, ()),
        ("Verse", 10000, ("Hello", "World")),
    ]
    assert plan_parts.summary(plan) == "Intro · Verse"
    assert plan_parts.duration_seconds(plan) == 15


@pytest.mark.parametrize("plan", [V1, V2], ids=["v1", "v2"])
def test_replacing_a_section_keeps_the_shape(plan: MusicPrompt | ChunkPlan) -> None:
    section = plan_parts.sections(plan)[1]
    changed = plan_parts.replace_section(
        plan,
        1,
        plan_parts.PlanSection(
            name="Chorus",
            duration_ms=20000,
            positive_styles=("rock",),
            lines=("Hey",),
            extra=section.extra,
        ),
    )
    assert type(changed) is type(plan)
    assert changed.duration_ms == 25000
    assert plan_parts.sections(changed)[1].lines == ("Hey",)
    if isinstance(changed, ChunkPlan):
        chunk = changed.chunks[1]
        assert isinstance(chunk, GenerationChunk)
        assert chunk.text == "[Chorus]\nHey" and chunk.context_adherence == "low"
    assert parse_plan(changed.to_wire()) == changed


@pytest.mark.parametrize("plan", [V1, V2], ids=["v1", "v2"])
def test_extend_keeps_the_song_and_adds_a_section(plan: MusicPrompt | ChunkPlan) -> None:
    extended = plan_parts.extend(plan, "song1", 30_000)
    found = plan_parts.sections(extended)
    assert [s.source_song_id for s in found] == ["song1", "song1", None]
    assert [s.source_start_ms for s in found[:2]] == [0, 5000]
    assert extended.duration_ms == 45_000
    if isinstance(extended, ChunkPlan):
        assert isinstance(extended.chunks[1], AudioRefChunk)
        assert extended.chunks[1].range.end_ms == 15_000
    else:
        source = extended.sections[1].source_from
        assert source is not None and source.range.end_ms == 15_000


def test_redo_regenerates_one_section_only() -> None:
    redone = plan_parts.redo_section(V1, "song1", 0)
    assert [s.source_song_id for s in plan_parts.sections(redone)] == [None, "song1"]
    with pytest.raises(InvalidInput):
        plan_parts.redo_section(V1, "song1", 5)


def test_extend_stops_at_the_longest_track() -> None:
    long_plan = plan_parts.rebuild(
        V1, [plan_parts.PlanSection(name=f"S{n}", duration_ms=120_000) for n in range(5)]
    )
    with pytest.raises(InvalidInput, match="already as long"):
        plan_parts.extend(long_plan, "song1", 30_000)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15", 15_000), ("15s", 15_000), (" 1:30 ", 90_000), ("3", 3_000), ("120", 120_000)],
)
def test_durations_are_read_as_people_write_them(text: str, expected: int) -> None:
    assert plan_parts.parse_seconds(text) == expected


@pytest.mark.parametrize("text", ["2", "121", "abc", "", "-5", "1:1:1"])
def test_bad_durations_say_what_is_allowed(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        plan_parts.parse_seconds(text)
    assert "seconds" in raised.value.message or "duration" in raised.value.message


def test_styles_and_lyrics_are_checked_against_the_api_limits() -> None:
    assert plan_parts.parse_styles("pop,  Rock\nrock, ,jazz") == ["pop", "Rock", "jazz"]
    with pytest.raises(InvalidInput, match="At most 50"):
        plan_parts.parse_styles(",".join(f"s{n}" for n in range(51)))
    with pytest.raises(InvalidInput, match="at most 30 lyric lines"):
        plan_parts.parse_lyrics("\n".join("la" for _ in range(31)))
    with pytest.raises(InvalidInput, match="line 2"):
        plan_parts.parse_lyrics("ok\n" + "x" * 201)
    with pytest.raises(InvalidInput, match="name"):
        plan_parts.parse_name("   ")
    with pytest.raises(InvalidInput, match="would last 0:02"):
        plan_parts.rebuild(V1, [plan_parts.PlanSection(name="A", duration_ms=2000)])


def test_the_biggest_plan_embed_fits_and_says_the_json_is_attached() -> None:
    data = biggest_plan()
    for section in data["sections"]:
        section["lines"] = [line[:200] for line in section["lines"]]
    plan = parse_plan(data)
    embed, left_out = plan_embed(plan, heading="x" * 300, prompt="p" * 5000, note="n" * 500)
    assert left_out
    assert embed_size(embed) <= EMBED_TOTAL
    assert len(embed.fields) <= MAX_FIELDS
    assert all(len(f.value or "") <= FIELD_VALUE and len(f.name or "") <= 256 for f in embed.fields)
    assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096


def test_a_small_plan_embed_shows_everything() -> None:
    embed, left_out = plan_embed(V1, heading="Composition plan")
    assert not left_out
    assert [f.name for f in embed.fields] == ["1. Intro · 0:05", "2. Verse · 0:10"]
    assert "> Hello" in (embed.fields[1].value or "")


def test_track_embed_with_every_section_full_of_lyrics_fits() -> None:
    data = biggest_plan()
    for section in data["sections"]:
        section["lines"] = [line[:200] for line in section["lines"]]
    metadata = SongMetadata(
        title="t" * 1000, genres=["g" * 100] * 50, languages=["en"] * 50, is_explicit=True
    )

    class Requester:
        mention = "<@1>"
        name = "n" * 100

    embed = track_embed(
        headline="h" * 5000,
        length_s=600,
        requester=Requester(),  # type: ignore[arg-type]
        metadata=metadata,
        plan=parse_plan(data),
        output_format="mp3_44100_64",
        tracks_left=3,
    )
    assert embed_size(embed) <= EMBED_TOTAL
    assert all(len(f.value or "") <= FIELD_VALUE for f in embed.fields)
    lyrics = next(f for f in embed.fields if f.name == "Lyrics")
    assert "Show plan" in (lyrics.value or "")
    assert any(f.name == "Explicit" and "Yes" in (f.value or "") for f in embed.fields)
