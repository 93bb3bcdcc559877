"""The sandbox refuses well-known artists and song titles the way the API does (a 400
`bad_prompt` with a suggestion), over real HTTP, without refusing ordinary words."""

from __future__ import annotations

import httpx
import pytest

from bot.music import BadPrompt, MusicClient
from tests.conftest import RunningSandbox

ARTISTS = [
    "Taylor Swift",
    "the Beatles",
    "Daft Punk",
    "Metallica",
    "Beyoncé",
    "Eminem",
    "Adele",
    "Michael Jackson",
    "Led Zeppelin",
    "Pink Floyd",
    "The Rolling Stones",
    "Bob Dylan",
    "David Bowie",
    "Billie Eilish",
    "Ed Sheeran",
    "Lady Gaga",
    "Kendrick Lamar",
    "AC/DC",
    "Guns N' Roses",
    "Coldplay",
    "Radiohead",
    "Bob Marley",
    "Elton John",
    "Hans Zimmer",
    "Miles Davis",
    "The Weeknd",
    "Dua Lipa",
    "Bruno Mars",
    "Rihanna",
    "ABBA",
    "Johnny Cash",
    "Dolly Parton",
    "Frank Sinatra",
    "Stevie Wonder",
    "Whitney Houston",
    "Jimi Hendrix",
    "Kanye West",
    "Linkin Park",
    "Arctic Monkeys",
    "Fleetwood Mac",
    "Black Sabbath",
    "Iron Maiden",
    "Avicii",
    "Kraftwerk",
    "BTS",
    "Bad Bunny",
    "Shakira",
    "Lana Del Rey",
    "Post Malone",
    "Ariana Grande",
    "Olivia Rodrigo",
    "Harry Styles",
    "Bon Jovi",
    "Green Day",
    "Foo Fighters",
    "Red Hot Chili Peppers",
    "Imagine Dragons",
    "Depeche Mode",
    "Aretha Franklin",
    "Mariah Carey",
]
TITLES = [
    "Bohemian Rhapsody",
    "Stairway to Heaven",
    "Hotel California",
    "Billie Jean",
    "Smells Like Teen Spirit",
    "Hey Jude",
    "Sweet Child O' Mine",
    "Like a Rolling Stone",
    "Purple Rain",
    "Shape of You",
    "Blinding Lights",
    "Rolling in the Deep",
    "Uptown Funk",
    "Bad Romance",
    "Wonderwall",
    "Seven Nation Army",
    "Back in Black",
    "Enter Sandman",
    "Get Lucky",
    "Despacito",
    "Gangnam Style",
    "My Heart Will Go On",
    "Dancing Queen",
    "Take On Me",
    "Never Gonna Give You Up",
    "Livin' on a Prayer",
    "Don't Stop Believin'",
    "Sweet Caroline",
    "Comfortably Numb",
    "Another Brick in the Wall",
    "Paint It Black",
    "No Woman No Cry",
    "What a Wonderful World",
    "Fly Me to the Moon",
    "Rocket Man",
    "Single Ladies",
    "Mr. Brightside",
    "Viva la Vida",
    "Eye of the Tiger",
    "We Will Rock You",
    "Old Town Road",
    "Lose Yourself",
]
# Common words that are also names: refused only where they clearly name the artist or song.
IN_CONTEXT = [
    "a song like Queen",
    "a ballad by Prince",
    "rock in the style of Muse",
    "hip hop like Drake",
    "grunge inspired by Nirvana",
    "a track like Thriller",
    "piano like Imagine",
]
ORDINARY = [
    "a queen's march for a royal parade",
    "the prince of the desert, cinematic",
    "a muse of the night, dreamy synths",
    "a drake flying over a pond, playful woodwinds",
    "imagine a rainy day in Paris, jazz",
    "heart-warming acoustic folk",
    "a thriller soundtrack with tense strings",
    "rolling hills, calm ambient",
    "a sweet lullaby for the moon",
    "nirvana-like calm meditation pads",
]


async def plan_status(sandbox: RunningSandbox, prompt: str) -> tuple[int, dict[str, object]]:
    async with httpx.AsyncClient(base_url=sandbox.url) as client:
        response = await client.post(
            "/v1/music/plan",
            json={"prompt": prompt, "music_length_ms": 10_000},
            headers={"xi-api-key": "test-key"},
        )
    return response.status_code, response.json()


def test_the_lists_are_realistic() -> None:
    assert len(ARTISTS) >= 60 and len(TITLES) >= 40


@pytest.mark.parametrize(
    "prompt",
    [f"a song like {name}" for name in ARTISTS]
    + [f"something in the style of {name.upper()}" for name in ARTISTS[:10]]
    + [f"a cover of {title}" for title in TITLES]
    + [f"{title.lower()} but slower" for title in TITLES[:10]]
    + IN_CONTEXT,
)
async def test_well_known_names_are_refused_with_a_suggestion_that_is_accepted(
    sandbox: RunningSandbox, prompt: str
) -> None:
    status, body = await plan_status(sandbox, prompt)
    assert status == 400, (prompt, body)
    detail = body["detail"]
    assert isinstance(detail, dict)
    assert detail["status"] == "bad_prompt" and detail["code"] == "bad_prompt"
    suggestion = detail["data"]["prompt_suggestion"]
    assert suggestion.startswith("An original ")
    assert not suggestion.startswith(("An original a ", "An original an ", "An original the "))
    assert "  " not in suggestion and not suggestion.endswith((" ", ",", " and", " by", " like"))
    again, _ = await plan_status(sandbox, suggestion)
    assert again == 200, (prompt, suggestion)


@pytest.mark.parametrize("prompt", ORDINARY)
async def test_ordinary_words_are_not_taken_for_names(sandbox: RunningSandbox, prompt: str) -> None:
    status, body = await plan_status(sandbox, prompt)
    assert status == 200, body


@pytest.mark.parametrize(
    ("prompt", "suggestion"),
    [
        ("a song like Bohemian Rhapsody by Queen", "An original operatic rock song"),
        ("a track like Daft Punk", "An original French house track"),
        ("like the beatles", "An original 1960s British pop-rock song"),
        ("Taylor Swift", "An original confessional pop song"),
        (
            "a sad piano ballad in the style of Adele and Coldplay",
            "An original sad piano ballad with a soulful pop feel",
        ),
        (
            "Queen's Bohemian Rhapsody, but as a lullaby",
            "An original operatic rock song as a lullaby",
        ),
        (
            "upbeat 80s synths like Take On Me by a-ha",
            "An original upbeat 80s synths with a synth-pop feel",
        ),
        ("hip hop like Drake", "An original moody hip hop song"),
        ("lofi like daft punk, with rain", "An original lofi with rain and a French house feel"),
        ("something in the style of BEYONCÉ", "An original powerhouse R&B song"),
    ],
)
async def test_suggestions_read_well(music: MusicClient, prompt: str, suggestion: str) -> None:
    from bot.music import build_request

    with pytest.raises(BadPrompt) as caught:
        await music.compose(build_request(prompt=prompt, length_s=5))
    assert caught.value.status_code == 400
    assert caught.value.prompt_suggestion == suggestion
