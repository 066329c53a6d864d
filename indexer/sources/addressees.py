"""Who each paragraph of a greetings round-up is addressed to, and their country.

Kremlin round-ups ("New Year greetings to foreign heads of state and government") pack one
message per paragraph, each naming its addressee in a different phrasing. We find the
greeting's "to ..." (or "Addressing ..."), then take the run of name-like words that follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

# Words that may sit inside a name or title without being capitalised ("President of the
# Republic of Korea", "King Felipe VI and Queen Letizia").
_CONNECTORS = frozenset({"of", "and", "de", "del", "da", "la", "al", "bin", "van", "von", "der"})
_THE_AFTER = frozenset({"of", "and"})
# Title-cased words that start a sentence about the sender, not the addressee.
_NOT_ADDRESSEE = frozenset(
    {"Mr", "Vladimir", "Putin", "President Putin", "The", "He", "His", "In", "Russia", "Russian"}
)
_WORD = regex.compile(
    r"\s*(?P<w>the country[’']s|\(?[\p{L}\p{M}][\p{L}\p{M}’'.\-]*\)?)(?P<comma>,)?"
)
# Arabic and other particles written in lower case before a capitalised surname: al-Assad.
_PARTICLE_NAME = regex.compile(r"(?:al|el|bin|ibn|de|di|da|van|von|le)-\p{Lu}")
_GREETING = regex.compile(
    r"\b(?:messages?|greetings?|greeting|congratulations|letter|wrote|addressed|extended|sent|"
    r"conveyed)\b",
    regex.IGNORECASE,
)
_TO = regex.compile(r"\b(?:addressed to|to)\s+(?:the\s+(?=[A-Z]))?(?=[\p{Lu}])")
_ADDRESSING = regex.compile(r"^\s*Addressing\s+(?:the\s+(?=[A-Z]))?")
_GROUP = regex.compile(
    r"\bto\s+(?:several|a number of|the)\s+(?P<group>[^,.]*?(?:heads|leaders|officials|"
    r"figures|politicians)[^,.]*?)(?:,|\s+called|\s+said|$)"
    r"(?:[^.]*?\b(?:specifically|in particular|including)\b,?\s+(?P<list>.+?)"
    r"(?:(?<![\p{Lu}])\.(?=\s+\p{Lu}|\s*$)|$))?",
)

# Country names in the long and short forms the site uses, and the adjectives it uses
# before a title ("Armenian President"). Longest forms are tried first.
_COUNTRY_FORMS: dict[str, str] = {
    "Republic of Abkhazia": "Abkhazia",
    "Abkhazia": "Abkhazia",
    "Argentine Republic": "Argentina",
    "Argentina": "Argentina",
    "Armenia": "Armenia",
    "Azerbaijan": "Azerbaijan",
    "Belarus": "Belarus",
    "Brazil": "Brazil",
    "Canada": "Canada",
    "People's Republic of China": "China",
    "People’s Republic of China": "China",
    "China": "China",
    "Croatia": "Croatia",
    "Republic of Cuba": "Cuba",
    "Cuba": "Cuba",
    "Czech Republic": "Czech Republic",
    "Finland": "Finland",
    "France": "France",
    "French Republic": "France",
    "Federal Republic of Germany": "Germany",
    "Germany": "Germany",
    "Greece": "Greece",
    "Hungary": "Hungary",
    "India": "India",
    "Israel": "Israel",
    "Italy": "Italy",
    "Japan": "Japan",
    "Kazakhstan": "Kazakhstan",
    "Republic of Korea": "South Korea",
    "Kyrgyzstan": "Kyrgyzstan",
    "Moldova": "Moldova",
    "Monaco": "Monaco",
    "Serbia": "Serbia",
    "Slovenia": "Slovenia",
    "South Africa": "South Africa",
    "South Ossetia": "South Ossetia",
    "Spain": "Spain",
    "Sweden": "Sweden",
    "Syrian Arab Republic": "Syria",
    "Syria": "Syria",
    "Tajikistan": "Tajikistan",
    "Turkey": "Turkey",
    "Turkmenistan": "Turkmenistan",
    "United Kingdom": "United Kingdom",
    "United States of America": "United States",
    "United States": "United States",
    "Uzbekistan": "Uzbekistan",
    "Venezuela": "Venezuela",
    "Vietnam": "Vietnam",
    "Ukraine": "Ukraine",
    "Mongolia": "Mongolia",
    "Georgia": "Georgia",
}
_COUNTRY_ADJECTIVES: dict[str, str] = {
    "Abkhazian": "Abkhazia",
    "Armenian": "Armenia",
    "Azerbaijani": "Azerbaijan",
    "Belarusian": "Belarus",
    "Brazilian": "Brazil",
    "Chinese": "China",
    "Czech": "Czech Republic",
    "Finnish": "Finland",
    "French": "France",
    "German": "Germany",
    "Hungarian": "Hungary",
    "Indian": "India",
    "Israeli": "Israel",
    "Italian": "Italy",
    "Japanese": "Japan",
    "Kazakh": "Kazakhstan",
    "Kyrgyz": "Kyrgyzstan",
    "Moldovan": "Moldova",
    "Serbian": "Serbia",
    "South African": "South Africa",
    "Syrian": "Syria",
    "Tajik": "Tajikistan",
    "Turkish": "Turkey",
    "US": "United States",
    "American": "United States",
    "British": "United Kingdom",
    "Uzbek": "Uzbekistan",
    "Venezuelan": "Venezuela",
    "Vietnamese": "Vietnam",
    "Ukrainian": "Ukraine",
}
# Heads of state whose country is their title rather than a place name in the text.
_TITLE_COUNTRIES = {"Pope": "Vatican"}
_COUNTRY = regex.compile(
    r"\b(?P<name>"
    + "|".join(
        regex.escape(k)
        for k in sorted(
            {**_COUNTRY_FORMS, **_COUNTRY_ADJECTIVES, **_TITLE_COUNTRIES}, key=len, reverse=True
        )
    )
    + r")\b"
)
_ALL_FORMS = {**_COUNTRY_FORMS, **_COUNTRY_ADJECTIVES, **_TITLE_COUNTRIES}


@dataclass(frozen=True, slots=True)
class Addressee:
    """The words naming whom a paragraph is addressed to, and their country when known."""

    name: str
    country: str | None


def country_of(name: str) -> str | None:
    """The country of an addressee phrase ("President of Armenia Serzh Sargsyan" → Armenia)."""
    match = _COUNTRY.search(name)
    return _ALL_FORMS[match.group("name")] if match else None


def _name_run(text: str, start: int) -> str | None:
    """The longest run of name-like words from `start`, ending on a capitalised word."""
    words: list[str] = []
    good = 0  # length of `words` at the last capitalised word
    pos = start
    while True:
        m = _WORD.match(text, pos)
        if m is None:
            break
        word = m.group("w")
        bare = word.strip("()")
        capital = bare[:1].isupper() or bool(_PARTICLE_NAME.match(bare))
        if not capital:
            if word.startswith("the country") or bare == "the":
                if not words or words[-1] not in _THE_AFTER:
                    break
            elif bare.rstrip("-") not in _CONNECTORS:
                break
        if capital and word.endswith(".") and not regex.fullmatch(r"\p{Lu}\.", word):
            # A full stop after a whole word ends the sentence; "H." is an initial.
            words.append(word[:-1])
            good = len(words)
            break
        words.append(word)
        if capital:
            good = len(words)
        pos = m.end()
        if m.group("comma"):
            nxt = _WORD.match(text, pos)
            following = nxt.group("w") if nxt else ""
            # Continue past a comma only into more of the name ("Prime Minister, Giuseppe Conte").
            if not following[:1].isupper() or following in _NOT_ADDRESSEE:
                break
            words[-1] += ","
    name = " ".join(words[:good]).rstrip(",")
    return name or None


def _extend_list(paragraph: str, group: regex.Match[str]) -> str:
    """A group named with a list of places ("leaders of Azerbaijan, Armenia, ... and
    Ukraine"): the group plus each following comma piece that continues the list."""
    name = group.group("group").strip()
    if not name[-1:].isupper() and not regex.search(r"\p{Lu}\p{Ll}*$", name):
        return name
    rest = paragraph[group.end("group") :]
    end = regex.search(r"(?<![\p{Lu}])\.(?=\s|$)", rest)
    for piece in (rest[: end.start()] if end else rest).split(",")[1:]:
        piece = piece.strip()
        if not piece or not (
            piece[0].isupper() or regex.match(r"(?:(?:and|as well as|the) )+\p{Lu}", piece)
        ):
            break
        name += ", " + piece
    return name


def find_addressee(paragraph: str) -> Addressee | None:
    """The addressee of one round-up paragraph, or None when it addresses no one."""
    group = _GROUP.search(paragraph)
    if group and _GREETING.search(paragraph, 0, group.start()):
        names = [group.group("list") or _extend_list(paragraph, group)]
        # A later sentence may add more addressees ("The President also sent messages to ...").
        for later in _TO.finditer(paragraph, group.end()):
            if _GREETING.search(paragraph, group.end(), later.start()):
                more = _name_run(paragraph, later.end())
                if more and more not in _NOT_ADDRESSEE:
                    names.append(more)
                break
        return Addressee("; ".join(names), None)
    starts: list[int] = []
    if opening := _ADDRESSING.match(paragraph):
        starts.append(opening.end())
    for to in _TO.finditer(paragraph):
        if _GREETING.search(paragraph, 0, to.start()):
            starts.append(to.end())
            break
    for start in starts:
        name = _name_run(paragraph, start)
        if name and name not in _NOT_ADDRESSEE:
            return Addressee(name, country_of(name))
    return None


def is_continuation(paragraph: str) -> bool:
    """A paragraph that quotes the message named just before it (it opens with a quote)."""
    return paragraph.lstrip()[:1] in {"“", '"', "«", "‘"}
