"""Well-known artists and song titles the sandbox refuses, as the API refuses copyrighted
material, and the original prompt it suggests instead.

Names that are distinctive (multi-word, or a word that means nothing else) are found anywhere.
Names that are also common words ("Queen", "Prince", "Muse", "Imagine") are found only where
they clearly name someone or something: after "like", "by", "in the style of", "inspired by",
"similar to" or "a cover of". Matching ignores case and works on whole words and phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# name -> a style to suggest in its place (adjectives and genres, no names).
ARTISTS: dict[str, str] = {
    "taylor swift": "confessional pop",
    "the beatles": "1960s British pop-rock",
    "beatles": "1960s British pop-rock",
    "daft punk": "French house",
    "metallica": "thrash metal",
    "beyoncé": "powerhouse R&B",
    "beyonce": "powerhouse R&B",
    "eminem": "rapid-fire hip hop",
    "adele": "soulful pop",
    "michael jackson": "1980s pop-funk",
    "elvis presley": "1950s rock and roll",
    "led zeppelin": "1970s hard rock",
    "pink floyd": "psychedelic progressive rock",
    "the rolling stones": "blues-based rock",
    "rolling stones": "blues-based rock",
    "bob dylan": "folk rock",
    "david bowie": "glam rock",
    "bruce springsteen": "heartland rock",
    "billie eilish": "whispery dark pop",
    "ariana grande": "R&B-tinged pop",
    "ed sheeran": "acoustic pop",
    "lady gaga": "electropop",
    "katy perry": "bubblegum pop",
    "justin bieber": "dance pop",
    "bruno mars": "retro funk-pop",
    "the weeknd": "synthwave R&B",
    "kanye west": "soul-sampling hip hop",
    "kendrick lamar": "jazz-tinged hip hop",
    "jay-z": "East Coast hip hop",
    "snoop dogg": "laid-back G-funk",
    "dr. dre": "G-funk",
    "tupac": "West Coast hip hop",
    "2pac": "West Coast hip hop",
    "ac/dc": "hard rock",
    "guns n' roses": "arena hard rock",
    "bon jovi": "arena rock",
    "linkin park": "nu metal",
    "green day": "pop punk",
    "foo fighters": "alternative rock",
    "red hot chili peppers": "funk rock",
    "arctic monkeys": "indie rock",
    "imagine dragons": "stadium pop-rock",
    "maroon 5": "pop rock",
    "abba": "1970s Europop",
    "a-ha": "synth-pop",
    "u2": "anthemic rock",
    "fleetwood mac": "1970s soft rock",
    "aretha franklin": "classic soul",
    "whitney houston": "soaring soul-pop",
    "mariah carey": "1990s R&B",
    "stevie wonder": "Motown soul",
    "frank sinatra": "big band swing",
    "johnny cash": "outlaw country",
    "dolly parton": "classic country",
    "bob marley": "roots reggae",
    "jimi hendrix": "psychedelic blues rock",
    "elton john": "piano rock",
    "freddie mercury": "operatic rock",
    "miles davis": "cool jazz",
    "john coltrane": "modal jazz",
    "louis armstrong": "classic jazz",
    "hans zimmer": "epic cinematic",
    "john williams": "orchestral film score",
    "ludovico einaudi": "minimalist piano",
    "olivia rodrigo": "pop punk-tinged pop",
    "dua lipa": "disco pop",
    "harry styles": "retro pop-rock",
    "post malone": "melodic hip hop",
    "travis scott": "atmospheric trap",
    "bad bunny": "reggaeton",
    "bts": "K-pop",
    "blackpink": "K-pop",
    "sabrina carpenter": "playful pop",
    "lana del rey": "cinematic dream pop",
    "the chainsmokers": "EDM pop",
    "avicii": "progressive house",
    "skrillex": "dubstep",
    "calvin harris": "EDM",
    "deadmau5": "progressive house",
    "kraftwerk": "vintage electronic",
    "depeche mode": "dark synth-pop",
    "black sabbath": "doom metal",
    "iron maiden": "heavy metal",
    "slipknot": "nu metal",
    "korn": "nu metal",
    "coldplay": "anthemic pop-rock",
    "radiohead": "atmospheric alternative rock",
    "rihanna": "dance pop",
    "shakira": "Latin pop",
    "oasis": "Britpop",
}
# Artists whose names are ordinary words: only after "like", "by", "in the style of" …
ARTISTS_IN_CONTEXT: dict[str, str] = {
    "queen": "operatic rock",
    "prince": "Minneapolis funk",
    "muse": "dramatic alternative rock",
    "drake": "moody hip hop",
    "nirvana": "grunge",
    "madonna": "1980s dance pop",
    "genesis": "progressive rock",
    "journey": "arena rock",
    "kiss": "glam metal",
    "heart": "1970s hard rock",
    "the eagles": "1970s country rock",
    "eagles": "1970s country rock",
    "the police": "new wave reggae rock",
    "the who": "1960s mod rock",
    "the doors": "psychedelic rock",
    "the cure": "gothic post-punk",
    "the killers": "synth-driven indie rock",
    "blur": "Britpop",
    "sting": "jazzy pop-rock",
    "pink": "pop rock",
    "elvis": "1950s rock and roll",
    "toto": "1980s soft rock",
    "cream": "blues rock",
    "yes": "progressive rock",
}
TITLES: dict[str, str] = {
    "bohemian rhapsody": "operatic rock",
    "stairway to heaven": "epic folk-rock",
    "hotel california": "1970s West Coast rock",
    "billie jean": "1980s pop-funk",
    "smells like teen spirit": "grunge",
    "hey jude": "piano-led sing-along",
    "sweet child o' mine": "arena hard rock",
    "sweet child of mine": "arena hard rock",
    "like a rolling stone": "folk rock",
    "purple rain": "power ballad",
    "shape of you": "tropical pop",
    "blinding lights": "synthwave pop",
    "rolling in the deep": "soul pop",
    "uptown funk": "retro funk",
    "bad romance": "electropop",
    "hips don't lie": "Latin pop",
    "wonderwall": "Britpop",
    "seven nation army": "garage rock",
    "back in black": "hard rock",
    "enter sandman": "heavy metal",
    "master of puppets": "thrash metal",
    "get lucky": "disco funk",
    "despacito": "reggaeton pop",
    "gangnam style": "K-pop dance",
    "my heart will go on": "cinematic ballad",
    "i will always love you": "soaring soul",
    "like a prayer": "1980s pop",
    "dancing queen": "disco pop",
    "take on me": "synth-pop",
    "never gonna give you up": "1980s dance pop",
    "livin' on a prayer": "arena rock",
    "don't stop believin'": "arena rock",
    "sweet caroline": "sing-along pop",
    "comfortably numb": "psychedelic rock",
    "another brick in the wall": "progressive rock",
    "paint it black": "psychedelic rock",
    "no woman no cry": "reggae",
    "redemption song": "acoustic reggae",
    "what a wonderful world": "warm jazz",
    "fly me to the moon": "swing",
    "rocket man": "piano rock",
    "tiny dancer": "piano rock",
    "crazy in love": "R&B",
    "single ladies": "R&B dance pop",
    "baby one more time": "teen pop",
    "oops i did it again": "teen pop",
    "shake it off": "upbeat pop",
    "old town road": "country rap",
    "mr. brightside": "indie rock",
    "viva la vida": "orchestral pop-rock",
    "the final countdown": "synth rock",
    "eye of the tiger": "arena rock",
    "we will rock you": "stomp-clap rock",
    "we are the champions": "anthemic rock",
    "another one bites the dust": "funk rock",
    "lose yourself": "intense hip hop",
}
TITLES_IN_CONTEXT: dict[str, str] = {
    "thriller": "1980s pop-funk",
    "imagine": "gentle piano",
    "yesterday": "acoustic ballad",
    "hallelujah": "reverent ballad",
    "creep": "alternative rock",
    "halo": "R&B ballad",
    "toxic": "electropop",
    "respect": "classic soul",
    "under pressure": "funk rock",
    "let it be": "piano ballad",
    "let it go": "musical theatre",
}

_TRIGGER = (
    r"(?:(?:sounds?|sounding)\s+like|like|by|in\s+the\s+style\s+of|in\s+the\s+vein\s+of|"
    r"the\s+style\s+of|inspired\s+by|similar\s+to|(?:an?\s+)?covers?\s+of)"
)
_GENERIC_NOUNS = {"song", "songs", "track", "tracks", "tune", "piece", "number", "music", "one"}
_LEADING_FILLER = {
    *("a", "an", "the", "some", "something", "anything", "original", "but", "and", "or", "&"),
    "just",
}
_STARTS_WITH_LINK = {"as", "with", "for", "in", "on", "at", "about", "to", "from", "without"}
_CONNECTOR = r"(?:,|&|\band\b|\bor\b|\bplus\b)"


def _alternatives(names: dict[str, str]) -> str:
    def pattern(name: str) -> str:
        parts = [re.escape(word) for word in name.split()]
        return r"\s+".join(parts).replace("'", "['’]")

    ordered = sorted(names, key=len, reverse=True)
    return "|".join(pattern(name) for name in ordered)


_ANYWHERE = re.compile(
    rf"(?:\b{_TRIGGER}\s+(?:the\s+)?)?(?<![\w-])(?P<name>{_alternatives(ARTISTS | TITLES)})"
    r"(?![\w-])(?:['’]s\b)?",
    re.IGNORECASE,
)
_IN_CONTEXT = re.compile(
    rf"\b{_TRIGGER}\s+(?P<name>{_alternatives(ARTISTS_IN_CONTEXT | TITLES_IN_CONTEXT)})"
    r"(?![\w-])(?!['’]s\b)",
    re.IGNORECASE,
)
# "Queen's Bohemian Rhapsody": a common-word name owning a title that was found.
_OWNER = re.compile(
    rf"(?<![\w-])(?:{_alternatives(ARTISTS_IN_CONTEXT)})['’]s\s*(?=\x00)", re.IGNORECASE
)
_STYLES = {
    key: style
    for table in (ARTISTS, ARTISTS_IN_CONTEXT, TITLES, TITLES_IN_CONTEXT)
    for key, style in table.items()
}


@dataclass(frozen=True, slots=True)
class Reference:
    name: str
    start: int
    end: int

    @property
    def style(self) -> str:
        return _STYLES[_normal(self.name)]


def _normal(name: str) -> str:
    return " ".join(name.lower().replace("’", "'").split())


def find_references(text: str) -> list[Reference]:
    """Every well-known artist or title in `text`, in order, with its "like …" around it."""
    found = [
        Reference(match.group("name"), match.start(), match.end())
        for pattern in (_ANYWHERE, _IN_CONTEXT)
        for match in pattern.finditer(text)
    ]
    found.sort(key=lambda ref: (ref.start, -ref.end))
    kept: list[Reference] = []
    for ref in found:
        if not kept or ref.start >= kept[-1].end:
            kept.append(ref)
    return kept


def original_prompt(prompt: str) -> str:
    """The prompt without the names and what points at them, as one grammatical sentence:
    "a song like Bohemian Rhapsody by Queen" -> "An original operatic rock song"."""
    references = find_references(prompt)
    style = references[0].style if references else ""
    marked, last = [], 0
    for ref in references:
        marked.append(prompt[last : ref.start])
        marked.append("\x00")
        last = ref.end
    marked.append(prompt[last:])
    text = _OWNER.sub("", "".join(marked))
    # A removed name and the list it was in ("like X and Y, Z") go together.
    text = re.sub(rf"(?:\s*{_CONNECTOR})?\s*\x00(?:\s*{_CONNECTOR}?\s*\x00)*,?", " ", text)
    words = text.replace(",", " , ").split()
    while words and (words[0].lower() in _LEADING_FILLER or words[0] in ",.;:-"):
        words.pop(0)
    trailing = _LEADING_FILLER | {"by", "like", "of"}
    while words and (words[-1].lower() in trailing or words[-1] in ",.;:-"):
        words.pop()
    rest = " ".join(words).replace(" , ", ", ")
    if rest and not rest[1:2].isupper():
        rest = rest[0].lower() + rest[1:]
    lead = f"{style} " if style else ""
    if not rest or rest.lower() in _GENERIC_NOUNS:
        return f"An original {lead}{rest or 'song'}"
    if style and rest.lower() in style.lower():
        return f"An original {style} song"
    if words[0].lower() in _STARTS_WITH_LINK:
        return f"An original {lead}song {rest}"
    if not style or style.lower() in rest.lower():
        return f"An original {rest}"
    article = "an" if style[0].lower() in "aeiou" else "a"
    link = "and" if " with " in f" {rest.lower()} " else "with"
    return f"An original {rest} {link} {article} {style} feel"
