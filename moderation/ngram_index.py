"""A hashed index of every n-character window of some texts: does a new text repeat n or more
characters of them verbatim (case and spacing aside)? Keeps 64-bit keyed hashes, never the text.

Texts are normalised first (NFKC, casefolded, every run of whitespace one space, trimmed).
Every window of the indexed texts is hashed and every window of a query is looked up, so any
shared stretch of at least n normalised characters is found, wherever it starts. The hashes are
keyed (blake2b with a key): without the key, the index cannot be searched for a guessed
sentence, nor a known opening extended character by character.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

WINDOW = 50  # characters: about ten words, longer than any stock phrase of everyday speech


@dataclass(frozen=True)
class Overlap:
    """The longest stretch of a query found in the index: its normalised length (an upper
    estimate: consecutive windows may come from different indexed texts) and its span in the
    query as written."""

    length: int
    span: tuple[int, int]


def normalise(text: str) -> tuple[str, list[int]]:
    """Return `text` normalised (NFKC, casefolded, whitespace runs as one space, trimmed) and,
    per normalised character, the index of the character of `text` it came from."""
    out: list[str] = []
    origin: list[int] = []
    for k, char in enumerate(text):
        if char.isspace():
            if out and out[-1] != " ":
                out.append(" ")
                origin.append(k)
            continue
        for piece in unicodedata.normalize("NFKC", char).casefold():
            out.append(" " if piece.isspace() else piece)
            origin.append(k)
    if out and out[-1] == " ":
        out.pop()
        origin.pop()
    return "".join(out), origin


def window_hashes(text: str, key: bytes, n: int = WINDOW) -> np.ndarray:
    """Return the keyed 64-bit hash of every n-character window of normalised `text`, in order
    (empty when it is shorter than n)."""
    norm, _ = normalise(text)
    return _hashes(norm, key, n)


def _hashes(norm: str, key: bytes, n: int) -> np.ndarray:
    count = len(norm) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    digests = b"".join(
        hashlib.blake2b(norm[k : k + n].encode("utf-8"), key=key, digest_size=8).digest()
        for k in range(count)
    )
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


class NgramIndex:
    """The sorted, deduplicated window hashes of some texts, and the queries against them."""

    def __init__(self, hashes: np.ndarray, key: bytes, n: int = WINDOW) -> None:
        self.hashes = np.unique(np.asarray(hashes, dtype=np.uint64))
        self.key, self.n = key, n

    @classmethod
    def build(cls, texts: Iterable[str], key: bytes, n: int = WINDOW) -> NgramIndex:
        """Return the index of every n-character window of `texts`."""
        parts = [window_hashes(t, key, n) for t in texts if t]
        hashes = np.concatenate(parts) if parts else np.empty(0, dtype=np.uint64)
        return cls(hashes, key, n)

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, text: str) -> tuple[np.ndarray, list[int]]:
        """Return, per window of normalised `text`, whether the index holds it, and the
        normalised-to-original character map."""
        norm, origin = normalise(text)
        found = _hashes(norm, self.key, self.n)
        if not len(found) or not len(self.hashes):
            return np.zeros(len(found), dtype=bool), origin
        at = np.searchsorted(self.hashes, found).clip(max=len(self.hashes) - 1)
        return self.hashes[at] == found, origin

    def longest_overlap(self, text: str) -> Overlap | None:
        """Return the longest stretch of `text` (at least n normalised characters) found in the
        index, or None when no window of it is there."""
        hit, origin = self.matches(text)
        if not hit.any():
            return None
        best_start, best_run, start = 0, 0, None
        for k, value in enumerate([*hit.tolist(), False]):
            if value and start is None:
                start = k
            elif not value and start is not None:
                if k - start > best_run:
                    best_start, best_run = start, k - start
                start = None
        length = best_run + self.n - 1
        last = best_start + length - 1  # the stretch's last normalised character
        return Overlap(length, (origin[best_start], origin[last] + 1))

    def overlapping(self, texts: Iterable[str]) -> list[bool]:
        """Return, per text, whether it repeats n or more characters of the indexed texts."""
        return [bool(self.matches(t)[0].any()) for t in texts]
