"""Pure statistics of ABC tunes for `genbot eval music`: key and meter fit, pitch-class and
interval histograms, Jensen–Shannon distance, a unigram baseline and verbatim-copy checks."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Any

import numpy as np

MEMORY_NOTES, MEMORY_CHARS = 16, 40  # a verbatim copy: this many notes, or characters
SPAN = 12  # intervals from -SPAN to +SPAN semitones; wider leaps count at the ends


MODES = ("minor", "major", "dorian", "mixolydian", "lydian", "phrygian", "locrian")


DEGREES = ("1", "b2", "2", "b3", "3", "4", "#4", "5", "b6", "6", "b7", "7")


_KEY = re.compile(r"([A-G])([#b]?)(m|dor|mix|lyd|phr|loc)?")


_NOTE = re.compile(r"[_^=]*[A-Ga-g][,']*[\d/]*")  # a note as written: accidental, pitch, length


def js_distance(p: Any, q: Any) -> float:
    """Return the Jensen-Shannon distance (base 2: 0 alike, 1 disjoint) of two histograms."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    if p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("an empty histogram has no distance")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a: np.ndarray) -> float:
        return float(np.sum(a[a > 0] * np.log2(a[a > 0] / m[a > 0])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))


@functools.cache
def key_classes(key: str) -> tuple[int, frozenset[int]]:
    """Return the tonic's pitch class and the scale's pitch classes of a key (`D`, `Em`, `Ador`)."""
    from music21 import key as m21key

    match = _KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"not a normalised key: {key!r}")
    mode = next(m for m in MODES if m.startswith(match[3] or "maj"))  # "m" is minor, "" major
    tonic = m21key.Key(match[1] + match[2].replace("b", "-"), mode)
    return tonic.tonic.pitchClass, frozenset(p.pitchClass for p in tonic.pitches)


def in_key_share(sounds: Any, key: str) -> float:
    """Return the share of sounding time whose pitch class is in the key's scale."""
    _, scale = key_classes(key)
    total = sum(s.length for s in sounds)
    return sum(s.length for s in sounds if s.pitch % 12 in scale) / total if total > 0 else 0.0


def full_bar_share(bars: Any, meter: str) -> float:
    """Return the share of bars that last the meter's bar. A shorter bar first, last or beside a
    section line (`:|`, `||`, `|]`, …) counts as full: it is a pickup or the bar completing one."""
    num, den = (int(x) for x in meter.split("/"))
    full, ok = 4 * num / den, 0
    for k, (length, line) in enumerate(bars):
        edge = k in (0, len(bars) - 1) or line != "|" or bars[k - 1][1] != "|"
        ok += abs(length - full) < 1e-6 or (edge and length < full)
    return ok / len(bars) if bars else 0.0


def pitch_class_histogram(sounds: Any, key: str) -> np.ndarray:
    """Return the share of sounding time on each pitch class, counted up from the key's tonic."""
    tonic, _ = key_classes(key)
    hist = np.zeros(12)
    for s in sounds:
        hist[(s.pitch - tonic) % 12] += s.length
    return hist / hist.sum() if hist.sum() > 0 else hist


def interval_histogram(sounds: Any) -> np.ndarray:
    """Return the share of each melodic step, -SPAN..+SPAN semitones, between successive onsets
    (the top note of a chord; wider leaps count at ±SPAN)."""
    top: dict[float, int] = {}
    for s in sounds:
        top[s.start] = max(top.get(s.start, 0), s.pitch)
    steps = np.diff([top[t] for t in sorted(top)]).astype(int)
    hist = np.bincount(np.clip(steps, -SPAN, SPAN) + SPAN, minlength=2 * SPAN + 1).astype(float)
    return hist / hist.sum() if hist.sum() > 0 else hist


def unigram_bits(train: list[list[int]], valid: list[list[int]], vocab: int) -> float:
    """Return the bits per token of add-one token frequencies (the no-context baseline)."""
    counts = Counter(t for row in train for t in row)
    total = sum(counts.values()) + vocab
    bits = [-math.log2((counts[t] + 1) / total) for row in valid for t in row]
    return sum(bits) / max(1, len(bits))


def note_tokens(body: str) -> tuple[str, ...]:
    """Return the notes of an ABC body as written (accidental, pitch, octave, length)."""
    return tuple(_NOTE.findall(body))


def repeats(samples: list, train: list, width: int) -> list[bool]:
    """Return, per sample (a str or tuple), whether it holds `width` consecutive items of some
    training sequence verbatim."""
    owners: dict[Any, set[int]] = {}
    for n, s in enumerate(samples):
        for k in range(len(s) - width + 1):
            owners.setdefault(s[k : k + width], set()).add(n)
    hit: set[int] = set()
    for t in train:
        for k in range(len(t) - width + 1):
            hit.update(owners.get(t[k : k + width], ()))
    return [n in hit for n in range(len(samples))]


def memorised(bodies: list[str], train: list[str]) -> list[bool]:
    """Return, per body, whether it repeats MEMORY_NOTES notes or MEMORY_CHARS characters of a
    training body verbatim."""
    notes = repeats([note_tokens(b) for b in bodies], [note_tokens(t) for t in train], MEMORY_NOTES)
    chars = repeats(bodies, train, MEMORY_CHARS)
    return [a or b for a, b in zip(notes, chars, strict=True)]
