"""Wire models of the Eleven Music API.

Field names are the API's snake_case; camelCase (as printed by the JS SDK and the 2025 docs) is
accepted on input too. Dumps use snake_case, which is what the API expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    TypeAdapter,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .audio import AudioSpool
from .text import control_character, describe_character
from .waveform import Waveform

ModelId = Literal["music_v1", "music_v2", "music_v2_5"]
# The current model; the server still defaults to music_v1, so every request names it.
DEFAULT_MODEL: ModelId = "music_v2_5"

MP3_FORMATS = (
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "mp3_48000_128",
    "mp3_48000_192",
    "mp3_48000_240",
    "mp3_48000_320",
)
OutputFormat = Literal[
    "auto",
    "mp3_22050_32",
    "mp3_24000_48",
    "mp3_44100_32",
    "mp3_44100_64",
    "mp3_44100_96",
    "mp3_44100_128",
    "mp3_44100_192",
    "mp3_48000_128",
    "mp3_48000_192",
    "mp3_48000_240",
    "mp3_48000_320",
    "pcm_8000",
    "pcm_16000",
    "pcm_22050",
    "pcm_24000",
    "pcm_32000",
    "pcm_44100",
    "pcm_48000",
    "ulaw_8000",
    "alaw_8000",
    "opus_48000_32",
    "opus_48000_64",
    "opus_48000_96",
    "opus_48000_128",
    "opus_48000_192",
]
# Every output format the API accepts, in its documented order.
OUTPUT_FORMATS: tuple[str, ...] = get_args(OutputFormat)

# Stem separation: the variations, the stems each makes (the API's order), and the formats it
# offers (AllowedOutputFormats: no `auto`, no mp3_48000_*).
StemVariation = Literal["two_stems_v1", "six_stems_v1"]
STEM_NAMES: dict[str, tuple[str, ...]] = {
    "two_stems_v1": ("vocals", "accompaniment"),
    "six_stems_v1": ("vocals", "drums", "bass", "guitar", "piano", "other"),
}
STEM_OUTPUT_FORMATS = frozenset(
    f for f in OUTPUT_FORMATS if f != "auto" and not f.startswith("mp3_48000_")
)

PROMPT_MAX_CHARS = 4100
LENGTH_MIN_MS = 3_000
LENGTH_MAX_MS = 600_000
SECTION_MIN_MS = 3_000
SECTION_MAX_MS = 120_000
MAX_SECTIONS = 30
MAX_LINES = 30
LINE_MAX_CHARS = 200
MAX_STYLES = 50
SEED_MAX = 2_147_483_647


def mp3_bitrate_kbps(output_format: str) -> int | None:
    """`mp3_44100_128` -> 128; None for anything that is not an MP3 format."""
    if output_format not in MP3_FORMATS:
        return None
    return int(output_format.rsplit("_", 1)[1])


class WireModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
        # Newer API answers may carry fields we do not model; keep them so a plan the API
        # suggested is sent back unchanged.
        extra="allow",
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _no_control_characters(value: str) -> str:
    found = control_character(value)
    if found is not None:
        raise ValueError(f"contains an invisible control character, {describe_character(found)}")
    return value


# Text sent to the API: control characters are refused (they are invisible and mean nothing).
CleanText = Annotated[str, AfterValidator(_no_control_characters)]
Styles = Annotated[list[CleanText], Field(max_length=MAX_STYLES)]
LyricLine = Annotated[CleanText, StringConstraints(max_length=LINE_MAX_CHARS)]


class TimeRange(WireModel):
    start_ms: int = Field(ge=0)
    end_ms: int = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end_ms <= self.start_ms:
            raise ValueError("end_ms must be after start_ms")
        return self


class SectionSource(WireModel):
    song_id: str = Field(min_length=1, max_length=100)
    range: TimeRange
    negative_ranges: list[TimeRange] | None = Field(default=None, max_length=10)


class Section(WireModel):
    section_name: CleanText = Field(min_length=1, max_length=100)
    positive_local_styles: Styles = Field(default_factory=list)
    negative_local_styles: Styles = Field(default_factory=list)
    duration_ms: int = Field(ge=SECTION_MIN_MS, le=SECTION_MAX_MS)
    lines: Annotated[list[LyricLine], Field(max_length=MAX_LINES)] = Field(default_factory=list)
    source_from: SectionSource | None = None


def _check_total(total_ms: int) -> None:
    if not LENGTH_MIN_MS <= total_ms <= LENGTH_MAX_MS:
        raise ValueError(
            f"the plan lasts {total_ms / 1000:g} s in total; a track lasts "
            f"{LENGTH_MIN_MS // 1000} to {LENGTH_MAX_MS // 1000} s"
        )


class MusicPrompt(WireModel):
    """The `music_v1` composition plan: global styles and up to 30 sections."""

    positive_global_styles: Styles = Field(default_factory=list)
    negative_global_styles: Styles = Field(default_factory=list)
    sections: list[Section] = Field(min_length=1, max_length=MAX_SECTIONS)

    @property
    def duration_ms(self) -> int:
        return sum(section.duration_ms for section in self.sections)

    @model_validator(mode="after")
    def _total(self) -> MusicPrompt:
        _check_total(self.duration_ms)
        return self


class AudioRefChunk(WireModel):
    song_id: str = Field(min_length=1, max_length=100)
    range: TimeRange

    @property
    def duration_ms(self) -> int:
        return self.range.end_ms - self.range.start_ms


class GenerationChunk(WireModel):
    text: CleanText = Field(max_length=6000)
    duration_ms: int = Field(ge=SECTION_MIN_MS, le=SECTION_MAX_MS)
    positive_styles: Styles = Field(default_factory=list)
    negative_styles: Styles | None = None
    context_adherence: Literal["low", "medium", "high"] | None = None
    conditioning_ref: AudioRefChunk | None = None
    condition_strength: Literal["low", "medium", "high", "xhigh"] | None = None


def _chunk_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "generation" if "text" in value else "audio_ref"
    return "generation" if isinstance(value, GenerationChunk) else "audio_ref"


Chunk = Annotated[
    Annotated[GenerationChunk, Tag("generation")] | Annotated[AudioRefChunk, Tag("audio_ref")],
    Discriminator(_chunk_kind),
]


class ChunkPlan(WireModel):
    """The `music_v2` / `music_v2_5` composition plan: up to 30 ordered chunks."""

    chunks: list[Chunk] = Field(min_length=1, max_length=MAX_SECTIONS)

    @property
    def duration_ms(self) -> int:
        return sum(chunk.duration_ms for chunk in self.chunks)

    @model_validator(mode="after")
    def _total(self) -> ChunkPlan:
        _check_total(self.duration_ms)
        return self


def _plan_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "v2" if "chunks" in value else "v1"
    return "v2" if isinstance(value, ChunkPlan) else "v1"


CompositionPlan = Annotated[
    Annotated[MusicPrompt, Tag("v1")] | Annotated[ChunkPlan, Tag("v2")],
    Discriminator(_plan_kind),
]
_plan_adapter: TypeAdapter[MusicPrompt | ChunkPlan] = TypeAdapter(CompositionPlan)


def parse_plan(data: Any) -> MusicPrompt | ChunkPlan:
    """Validate a plan given as a dict (snake_case or camelCase) or a JSON string."""
    if isinstance(data, str | bytes):
        return _plan_adapter.validate_json(data)
    return _plan_adapter.validate_python(data)


class SongMetadata(WireModel):
    title: str | None = None
    description: str | None = None
    genres: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    is_explicit: bool | None = None


class DetailedMetadata(WireModel):
    """The JSON part of `/v1/music/detailed`."""

    composition_plan: dict[str, Any] | None = None
    song_metadata: SongMetadata | None = None
    words_timestamps: list[dict[str, Any]] | None = None
    # SDK 2.78, when asked with `with_waveform_visual`: 4 ints a second, −1000…1000, mono.
    waveform_visual: list[int] | None = None


Prompt = Annotated[CleanText, StringConstraints(min_length=1, max_length=PROMPT_MAX_CHARS)]


class ComposeRequest(WireModel):
    """One generation: a prompt or a composition plan, never both, checked before sending."""

    model_config = ConfigDict(extra="forbid")

    prompt: Prompt | None = None
    composition_plan: CompositionPlan | None = None
    music_length_ms: int | None = Field(default=None, ge=LENGTH_MIN_MS, le=LENGTH_MAX_MS)
    model_id: ModelId = DEFAULT_MODEL
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    force_instrumental: bool | None = None
    respect_sections_durations: bool | None = None
    # Keep the song under its `song-id` so a later plan can reuse parts of it (inpainting).
    store_for_inpainting: bool | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ComposeRequest:
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("the prompt is empty")
        if (self.prompt is None) == (self.composition_plan is None):
            raise ValueError("give either a prompt or a composition plan, not both or neither")
        if self.composition_plan is not None:
            if self.music_length_ms is not None:
                raise ValueError("music_length_ms only goes with a prompt; a plan sets its length")
            if self.force_instrumental:
                raise ValueError("force_instrumental only goes with a prompt")
            wants_chunks = self.model_id != "music_v1"
            if isinstance(self.composition_plan, ChunkPlan) != wants_chunks:
                shape = "chunks" if wants_chunks else "sections"
                raise ValueError(f"{self.model_id} takes a plan made of {shape}")
        else:
            if self.respect_sections_durations is not None:
                raise ValueError("respect_sections_durations only goes with a composition plan")
            if self.seed is not None:
                # The API's docs: a seed "cannot be used in conjunction with prompt".
                raise ValueError("a seed only goes with a composition plan, not with a prompt")
        return self

    @property
    def expected_duration_ms(self) -> int | None:
        if self.composition_plan is not None:
            return self.composition_plan.duration_ms
        return self.music_length_ms

    def body(
        self,
        *,
        streaming: bool = False,
        with_timestamps: bool = False,
        with_waveform_visual: bool = False,
    ) -> dict[str, Any]:
        data = self.to_wire()
        if streaming:
            data.pop("respect_sections_durations", None)
        if with_timestamps:
            data["with_timestamps"] = True
        if with_waveform_visual:
            data["with_waveform_visual"] = True
        return data


@dataclass(frozen=True, slots=True)
class Stem:
    """One stem of a song: its name (`vocals`, `drums`, …) and its MP3."""

    name: str
    audio: bytes


@dataclass(eq=False)
class Track:
    """A finished generation. The audio lives in a spool that the owner must `close()`."""

    audio: AudioSpool
    content_type: str
    output_format: str | None = None
    song_id: str | None = None
    request_id: str | None = None
    cost: int | None = None
    metadata: SongMetadata | None = None
    composition_plan: dict[str, Any] | None = None
    filename: str | None = None
    expected_duration_ms: int | None = None
    # Levels for the track's waveform image: the API's `waveform_visual`, or measured from
    # the PCM a jam streamed; None until known (then measured from the MP3).
    waveform: Waveform | None = None

    @property
    def size(self) -> int:
        return self.audio.size

    @property
    def title(self) -> str | None:
        return self.metadata.title if self.metadata else None

    def close(self) -> None:
        self.audio.close()

    def __enter__(self) -> Track:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
