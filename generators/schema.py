"""The wire schema of generation requests: torch-free validation the bot and service share.

Every bad value gets a `RequestError` naming the field and the reason, never a crash."""

from __future__ import annotations

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
        notes = []
        tokens = integer(body.get("max_new_tokens", min(128, cap)), "max_new_tokens", 1, 10**9)
        if tokens > cap:
            notes.append(f"max_new_tokens {tokens} clamped to {cap}")
            tokens = cap
        temperature = number(body.get("temperature", 0.8), "temperature", -1e9, 1e9)
        if not 0.0 <= temperature <= 2.0:
            clamped = min(2.0, max(0.0, temperature))
            notes.append(f"temperature {temperature:g} clamped to {clamped:g}")
            temperature = clamped
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
