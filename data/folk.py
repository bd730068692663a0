"""The folk-tune dataset: public-domain ABC tunes bundled with the PyPI package music21.

Ryan's Mammoth Collection (1883), O'Neill's Music of Ireland (1850) and Aird's Airs (1782–1803)
only; the Essen collection is left out (its licence is non-commercial). Files are split into
tunes, headers normalised (rhythm `R:`, meter `M:`, key `K:`, unit note length `L:` become the
conditioning), bodies cleaned of fingerings, bowings, annotations and line continuations, and
tunes split train/validation by a hash of the tune, so no tune is on both sides.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

COLLECTIONS = {
    "ryansMammoth": "Ryan's Mammoth Collection",
    "oneills1850": "O'Neill's 1850",
    "airdsAirs": "Aird's Airs",
}
RHYTHMS = {
    "reel": "reel",
    "jig": "jig",
    "double jig": "jig",
    "single jig": "jig",
    "slip jig": "slip jig",
    "slipjig": "slip jig",
    "hornpipe": "hornpipe",
    "strathspey": "strathspey",
    "air": "air",
    "polka": "polka",
    "waltz": "waltz",
    "march": "march",
    "clog": "hornpipe",
    "set dance": "set dance",
    "schottische": "schottische",
    "slide": "slide",
    "quickstep": "march",
    "song": "air",
}
_QUOTED = re.compile(r'"[^"]*"')
_DECORATION = re.compile(r"![^!]*!|\+[^+\s]*\+|[uvHLMOPSTR~]+(?=[\s(\[{=^_A-Ga-gz|])")
_GRACE = re.compile(r"\{[^}]*\}")
_SLUR = re.compile(r"\((?!\d)|\)")
_SPACES = re.compile(r"[ \t]+")
# Longer mode names first, so "mixolydian" is not read as "m" (minor).
_MODES = (
    "mixolydian|mix|minor|min|major|maj|dorian|dor|aeolian|aeo|"
    "lydian|lyd|phrygian|phr|locrian|loc|m"
)
_KEY = re.compile(rf"^\s*([A-G])([#b]?)\s*({_MODES})?", re.I)


@dataclass(frozen=True)
class Tune:
    """One tune: its conditioning header and its cleaned ABC body."""

    id: str
    source: str
    title: str
    rhythm: str
    meter: str
    key: str
    unit: str
    body: str
    split: str


def corpus_folder() -> Path:
    """Return music21's bundled corpus folder (without importing music21)."""
    spec = importlib.util.find_spec("music21")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("music21 is not installed (run ./install.sh)")
    return Path(next(iter(spec.submodule_search_locations))) / "corpus"


def split_tunes(text: str) -> Iterator[list[str]]:
    """Yield the lines of each tune (from an `X:` line to the next)."""
    tune: list[str] = []
    for line in text.splitlines():
        if line.startswith("X:"):
            if tune:
                yield tune
            tune = [line]
        elif tune:
            tune.append(line)
    if tune:
        yield tune


def normalise_key(raw: str) -> str | None:
    """Return a key as `D`, `Em`, `Ador`, `Gmix` …, or None for one we cannot read."""
    match = _KEY.match(raw)
    if not match:
        return None
    note, accidental, mode = match.group(1).upper(), match.group(2), (match.group(3) or "").lower()
    suffix = {
        "m": "m",
        "min": "m",
        "minor": "m",
        "aeo": "m",
        "aeolian": "m",
        "dor": "dor",
        "dorian": "dor",
        "mix": "mix",
        "mixolydian": "mix",
        "lyd": "lyd",
        "phr": "phr",
        "loc": "loc",
    }.get(mode, "")
    return note + accidental + suffix


def mode_of(key: str) -> str:
    """Return the mode of a normalised key ("Am" minor, "Ador" dorian, "D" major)."""
    for suffix, mode in (("dor", "dorian"), ("mix", "mixolydian"), ("m", "minor")):
        if key.endswith(suffix):
            return mode
    return "major"


def normalise_rhythm(raw: str) -> str:
    """Return the rhythm family of an `R:` value (`other` when it is none we know)."""
    return RHYTHMS.get(" ".join(raw.lower().replace("-", " ").split()), "other")


def clean_body(lines: list[str]) -> str:
    """Return the tune's notes with annotations, fingerings, bowings and grace notes removed."""
    text = " ".join(
        line.rstrip("\\").strip() for line in lines if line.strip() and not line.startswith("%")
    )
    for pattern in (_QUOTED, _DECORATION, _GRACE, _SLUR):
        text = pattern.sub("", text)
    return _SPACES.sub(" ", text).strip()


def parse_tune(lines: list[str], source: str) -> Tune | None:
    """Return the tune in `lines`, or None when it lacks a key, meter or notes, or has voices."""
    fields, body = {}, []
    for line in lines:
        if re.match(r"^[A-Za-z]:", line) and not body:
            fields.setdefault(line[0], line[2:].strip())
            if line[0] == "K":
                body = [""]
        elif body:
            if re.match(r"^[A-Za-z]:", line):
                if line[0] in "VwW":
                    return None  # several voices or lyrics: not a single melody line
                continue
            body.append(line)
    key = normalise_key(fields.get("K", ""))
    meter = fields.get("M", "").strip().replace("C|", "2/2").replace("C", "4/4")
    notes = clean_body(body)
    if (
        key is None
        or not re.fullmatch(r"\d+/\d+", meter)
        or sum(c in "ABCDEFGabcdefg" for c in notes) < 16
    ):
        return None
    title = fields.get("T", "untitled").split("--")[0].strip() or "untitled"
    ident = hashlib.sha256(f"{source}\n{title}\n{notes}".encode()).hexdigest()[:12]
    split = "valid" if int(ident, 16) % 10 == 0 else "train"
    unit = fields.get("L", "1/8").strip()
    unit = unit if re.fullmatch(r"1/\d+", unit) else "1/8"
    rhythm = normalise_rhythm(fields.get("R", ""))
    if rhythm == "other":
        # O'Neill's often leaves R: out; the meter says what kind of tune it is.
        rhythm = {"6/8": "jig", "9/8": "slip jig", "12/8": "slide"}.get(meter, "other")
    return Tune(ident, source, title, rhythm, meter, key, unit, notes, split)


def read_corpus(folder: Path | None = None) -> list[Tune]:
    """Return every usable tune of the three public-domain collections, deduplicated."""
    folder = folder or corpus_folder()
    tunes, seen = [], set()
    for collection, source in COLLECTIONS.items():
        for path in sorted((folder / collection).glob("*.abc")):
            text = path.read_text(encoding="utf-8", errors="replace")
            for lines in split_tunes(text):
                tune = parse_tune(lines, source)
                if tune is not None and tune.id not in seen:
                    seen.add(tune.id)
                    tunes.append(tune)
    return tunes


def build(home: Path) -> dict[str, Path]:
    """Write GENBOT_HOME/datasets/folk-abc.jsonl and folk-stats.json; return their paths."""
    tunes = read_corpus()
    out = home / "datasets"
    out.mkdir(parents=True, exist_ok=True)
    data, stats = out / "folk-abc.jsonl", out / "folk-stats.json"
    with data.open("w", encoding="utf-8") as handle:
        for tune in tunes:
            handle.write(json.dumps(asdict(tune), ensure_ascii=False) + "\n")
    summary = {
        "tunes": len(tunes),
        "by_split": Counter(t.split for t in tunes),
        "by_source": Counter(t.source for t in tunes),
        "by_rhythm": Counter(t.rhythm for t in tunes).most_common(),
        "by_meter": Counter(t.meter for t in tunes).most_common(12),
        "by_key": Counter(t.key for t in tunes).most_common(16),
        "licence": "public domain (collections published 1782-1883), as bundled with music21",
    }
    stats.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return {"tunes": data, "stats": stats}


def load(home: Path, split: str | None = None) -> list[Tune]:
    """Return the built tunes (optionally one split); FileNotFoundError if not built."""
    path = home / "datasets" / "folk-abc.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `genbot data build music` first")
    tunes = [Tune(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines()]
    return [t for t in tunes if split is None or t.split == split]
