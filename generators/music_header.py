"""From a free-text prompt to the header of a tune: rhythm, meter, key, unit, tempo, title.

Pure and forgiving: unknown words fall back to defaults (never an error), and every fallback
or guess is stated in `notes` so the bot can say what it understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from data.folk import normalise_key

METERS = {
    "reel": "4/4",
    "jig": "6/8",
    "slip jig": "9/8",
    "slide": "12/8",
    "hornpipe": "4/4",
    "strathspey": "4/4",
    "polka": "2/4",
    "march": "2/4",
    "waltz": "3/4",
    "air": "3/4",
    "set dance": "6/8",
    "schottische": "4/4",
}
TEMPI = {
    "reel": 112,
    "jig": 116,
    "slip jig": 112,
    "slide": 120,
    "hornpipe": 90,
    "strathspey": 80,
    "polka": 120,
    "march": 100,
    "waltz": 96,
    "air": 60,
    "set dance": 100,
    "schottische": 100,
}
SLOW = {
    "slow",
    "sad",
    "mournful",
    "gentle",
    "calm",
    "lament",
    "lonely",
    "sorrowful",
    "quiet",
    "melancholy",
}
FAST = {"lively", "fast", "quick", "happy", "merry", "bright", "jolly", "energetic", "cheerful"}
DEFAULT_RHYTHM, DEFAULT_KEY = "reel", "D"
_MODE_WORDS = "mixolydian|mix|minor|min|major|maj|dorian|dor|m"
_KEY_WORDS = re.compile(
    rf"\b(?:in|key(?: of)?|k:)\s*([a-gA-G][#b♯♭]?\s*(?:{_MODE_WORDS})?)\b"
    r"|\b([a-gA-G][#b♯♭]?)\s+(minor|major|dorian|mixolydian)\b",
    re.I,
)
_METER = re.compile(r"\b(\d{1,2}/\d{1,2})\b")


@dataclass(frozen=True)
class Header:
    """What a tune will be: the conditioning of the music model, plus tempo and title."""

    rhythm: str
    meter: str
    key: str
    unit: str
    tempo: int
    title: str
    notes: tuple[str, ...] = ()

    def abc(self) -> str:
        """Return the header as ABC lines (X, T, R, M, L, Q, K)."""
        return (
            f"X:1\nT:{self.title}\nR:{self.rhythm}\nM:{self.meter}\nL:{self.unit}\n"
            f"Q:1/4={self.tempo}\nK:{self.key}\n"
        )


def _rhythm(words: str) -> str | None:
    for name in sorted(METERS, key=len, reverse=True):
        if re.search(rf"\b{name}s?\b", words):
            return name
    return None


def _key(text: str, mood_minor: bool, notes: list[str]) -> str:
    match = _KEY_WORDS.search(text)
    if match:
        raw = (
            (match.group(1) or f"{match.group(2)} {match.group(3)}")
            .replace("♯", "#")
            .replace("♭", "b")
        )
        compact = raw.replace(" ", "")
        key = normalise_key(compact.replace("major", "").replace("maj", ""))
        if key is not None:
            return key
        notes.append(f"unknown key {raw.strip()!r}: using {DEFAULT_KEY}")
    elif re.search(r"\bk:\s*\S", text, re.I):
        notes.append(f"unknown key in {text.strip()!r}: using {DEFAULT_KEY}")
    return "Em" if mood_minor else DEFAULT_KEY


def parse(prompt: str) -> Header:
    """Return the header a prompt asks for ("a slow sad air in D minor", "lively jig in G")."""
    text = " ".join(prompt.split())[:300]
    words = text.lower()
    notes: list[str] = []
    rhythm = _rhythm(words)
    if rhythm is None:
        rhythm = DEFAULT_RHYTHM
        notes.append(f"no rhythm named: a {DEFAULT_RHYTHM}")
    tokens = set(re.findall(r"[a-z]+", words))
    slow, fast = bool(tokens & SLOW), bool(tokens & FAST)
    key = _key(
        text,
        mood_minor=bool(tokens & {"sad", "mournful", "lament", "melancholy", "sorrowful"}),
        notes=notes,
    )
    meter_match = _METER.search(words)
    meter = meter_match.group(1) if meter_match else METERS[rhythm]
    tempo = TEMPI[rhythm] + (20 if fast and not slow else 0) - (24 if slow and not fast else 0)
    title = re.sub(r"[^\w '#/\-]", "", text).strip()[:60] or f"A {rhythm}"
    return Header(rhythm, meter, key, "1/8", max(40, min(200, tempo)), title.title(), tuple(notes))


def override(
    header: Header, rhythm: str | None = None, meter: str | None = None, key: str | None = None
) -> Header:
    """Return `header` with the options a user set explicitly (already checked) in place of
    what the prompt implied: a new rhythm brings its own meter and tempo unless told otherwise."""
    if rhythm and rhythm != header.rhythm:
        implied_meter = header.meter == METERS[header.rhythm]
        mood = header.tempo - TEMPI[header.rhythm]  # keep "slow"/"lively" from the prompt
        header = replace(
            header,
            rhythm=rhythm,
            meter=METERS[rhythm] if implied_meter else header.meter,
            tempo=max(40, min(200, TEMPI[rhythm] + mood)),
            notes=tuple(n for n in header.notes if not n.startswith("no rhythm named")),
        )
    if key:
        header = replace(header, notes=tuple(n for n in header.notes if "unknown key" not in n))
    return replace(header, meter=meter or header.meter, key=key or header.key)
