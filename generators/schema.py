"""The wire schema of generation requests: torch-free validation the bot and service share.

Every bad value gets a `RequestError` naming the field and the reason, never a crash."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PROMPT_CHARS = 1000
MAX_SEED = 2**63 - 1


class RequestError(ValueError):
    """A request field is missing or out of range: `field` says which."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def prompt(value: object, field: str = "prompt") -> str:
    """Return a usable prompt: a non-empty string of at most MAX_PROMPT_CHARS characters."""
    if not isinstance(value, str):
        raise RequestError(field, "must be a string")
    text = " ".join(value.split())
    if not text:
        raise RequestError(field, "is empty")
    if len(text) > MAX_PROMPT_CHARS:
        raise RequestError(field, f"is {len(text)} characters; the limit is {MAX_PROMPT_CHARS}")
    return text


def integer(value: object, field: str, low: int, high: int) -> int:
    """Return `value` as an int within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(field, "must be an integer")
    if not low <= value <= high:
        raise RequestError(field, f"must be between {low} and {high}, got {value}")
    return value


def number(value: object, field: str, low: float, high: float) -> float:
    """Return `value` as a float within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(field, "must be a number")
    if not low <= float(value) <= high:
        raise RequestError(field, f"must be between {low} and {high}, got {value}")
    return float(value)


def clamped(body: dict, field: str, default: float, high: float, notes: list[str]) -> float:
    """Return a sampling value clamped to [0, high] (an int for max_new_tokens, from 1), noting
    any clamping in `notes`; only a value of the wrong type is an error."""
    value = body.get(field, default)
    if field == "max_new_tokens":
        value = integer(value, field, 1, 10**9)
    else:
        value = number(value, field, -1e9, 1e9)
    if not 0 <= value <= high:
        kept = min(high, max(0, value))
        shown = (f"{value:g}", f"{kept:g}") if isinstance(value, float) else (value, kept)
        notes.append(f"{field} {shown[0]} clamped to {shown[1]}")
        return kept
    return value


@dataclass(frozen=True)
class ImageRequest:
    """A GAN request: `num_samples` images for a prompt from one seed."""

    prompt: str
    num_samples: int = 4
    seed: int = 0

    @classmethod
    def parse(cls, body: dict) -> ImageRequest:
        """Return a validated request from a JSON body."""
        return cls(
            prompt=prompt(body.get("prompt")),
            num_samples=integer(body.get("num_samples", 4), "num_samples", 1, 16),
            seed=integer(body.get("seed", 0), "seed", 0, MAX_SEED),
        )


@dataclass(frozen=True)
class VariationRequest:
    """A VAE request: variations of one image, or a blend of two."""

    num_samples: int = 4
    strength: float = 0.5
    steps: int = 6
    seed: int = 0

    @classmethod
    def parse(cls, body: dict) -> VariationRequest:
        """Return validated VAE options from a JSON body (the images are checked elsewhere)."""
        return cls(
            num_samples=integer(body.get("num_samples", 4), "num_samples", 1, 16),
            strength=number(body.get("strength", 0.5), "strength", 0.0, 2.0),
            steps=integer(body.get("steps", 6), "steps", 2, 16),
            seed=integer(body.get("seed", 0), "seed", 0, MAX_SEED),
        )


MAX_NEW_TOKENS = 256
STOP_LIMIT = 4


@dataclass(frozen=True)
class TextRequest:
    """A text request. Out-of-range sampling values are clamped, and `notes` says so."""

    prompt: str
    max_new_tokens: int = 128
    temperature: float = 0.8
    top_k: int = 50
    top_p: float = 0.95
    seed: int = 0
    stop: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: dict, cap: int = MAX_NEW_TOKENS) -> TextRequest:
        """Return a validated request from a JSON body (clamping sampling values, with notes)."""
        notes: list[str] = []
        tokens = int(clamped(body, "max_new_tokens", min(128, cap), cap, notes))
        temperature = clamped(body, "temperature", 0.8, 2.0, notes)
        stop = body.get("stop", [])
        if (
            not isinstance(stop, list)
            or len(stop) > STOP_LIMIT
            or not all(isinstance(s, str) and 0 < len(s) <= 32 for s in stop)
        ):
            raise RequestError(
                "stop", f"must be a list of at most {STOP_LIMIT} strings of 1-32 chars"
            )
        return cls(
            prompt=prompt(body.get("prompt")),
            max_new_tokens=tokens,
            temperature=temperature,
            top_k=integer(body.get("top_k", 50), "top_k", 0, 100_000),
            top_p=number(body.get("top_p", 0.95), "top_p", 0.01, 1.0),
            seed=integer(body.get("seed", 0), "seed", 0, MAX_SEED),
            stop=tuple(stop),
            notes=tuple(notes),
        )


MUSIC_MAX_NEW_TOKENS = 1024
_MODES = (
    "mixolydian|mix|minor|min|major|maj|dorian|dor|aeolian|aeo|"
    "lydian|lyd|phrygian|phr|locrian|loc|m"
)
_KEY = re.compile(rf"[A-Ga-g][#b]?\s*(?:{_MODES})?", re.I)
_METER = re.compile(r"(\d{1,2})/(\d{1,2})")


def music_key(value: object) -> str:
    """Return a key as the music model writes it (`D`, `Em`, `Ador`, `F#mix`)."""
    from data.folk import normalise_key

    text = value.strip().replace("♯", "#").replace("♭", "b") if isinstance(value, str) else ""
    key = normalise_key(text) if _KEY.fullmatch(text) else None
    if key is None:
        raise RequestError("key", f"must be a key like D, Em, Bb, F#m, Ador or Gmix; got {value!r}")
    return key


def music_meter(value: object) -> str:
    """Return a meter `N/D` (D a power of two up to 16; `C` and `C|` read as 4/4 and 2/2)."""
    text = value.strip() if isinstance(value, str) else ""
    match = _METER.fullmatch({"C": "4/4", "C|": "2/2"}.get(text, text))
    if match is None or not 1 <= int(match[1]) <= 16 or match[2] not in ("1", "2", "4", "8", "16"):
        raise RequestError("meter", f"must be a meter like 4/4, 6/8 or 9/8; got {value!r}")
    return f"{int(match[1])}/{match[2]}"


def music_rhythm(value: object) -> str:
    """Return one of the rhythms the prompt parser knows (reel, jig, slip jig, air, …)."""
    from data.folk import normalise_rhythm
    from generators.music_header import METERS

    rhythm = normalise_rhythm(value) if isinstance(value, str) else "other"
    if rhythm not in METERS:
        raise RequestError("rhythm", f"must be one of {', '.join(METERS)}; got {value!r}")
    return rhythm


@dataclass(frozen=True)
class MusicRequest:
    """A folk-tune request: the prompt, optional header overrides and sampling values.

    `key`, `meter` and `rhythm` (None: as the prompt implies) are checked here; sampling values
    out of range are clamped, and `notes` says so."""

    prompt: str
    key: str | None = None
    meter: str | None = None
    rhythm: str | None = None
    max_new_tokens: int = 400
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0
    notes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body: dict, cap: int = MUSIC_MAX_NEW_TOKENS) -> MusicRequest:
        """Return a validated request from a JSON body (clamping sampling values, with notes)."""
        checks = {"key": music_key, "meter": music_meter, "rhythm": music_rhythm}
        options = {k: check(body[k]) for k, check in checks.items() if body.get(k) is not None}
        notes: list[str] = []
        tokens = int(clamped(body, "max_new_tokens", min(400, cap), cap, notes))
        temperature = clamped(body, "temperature", 1.0, 2.0, notes)
        return cls(
            prompt=prompt(body.get("prompt")),
            **options,
            max_new_tokens=tokens,
            temperature=temperature,
            top_k=integer(body.get("top_k", 0), "top_k", 0, 100_000),
            seed=integer(body.get("seed", 0), "seed", 0, MAX_SEED),
            notes=tuple(notes),
        )
