"""Scorers: each turns a batch of texts (or images) into a batch of {label: score} dicts.

Heavy ones (Detoxify, the lexical classifier, the NSFW image model) import their libraries only
inside `load()`, so importing this package never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Match:
    """A rule or detector hit: `label` at `score`, found at text[start:end]."""

    label: str
    score: float
    start: int
    end: int
    source: str


class Scorer(Protocol):
    """Batch in, batch out: one {label: score} dict per text, scores in [0, 1]."""

    name: str
    version: str
    # Longest input, in words, that the scorer judges well; the screen slides a window of this
    # many words over longer texts. None: the scorer handles any length itself.
    window_words: int | None

    def load(self) -> None:
        """Load the model (lazily imports heavy libraries); idempotent."""

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Return one {label: score} dict per text."""


class Finder(Protocol):
    """A scorer that can say where in a text each hit is (rules, PII)."""

    name: str
    version: str

    def find(self, text: str) -> list[Match]:
        """Return the hits in `text`."""
