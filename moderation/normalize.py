"""Views of a text that undo common evasion tricks, each able to point back into the original.

A scorer sees every distinct view and the screen takes the maximum per label, so
"ｆ𝘂ⅽκ", "f.u.c.k", "fuuuuck", "f u c k" and "fμck" all reach the scorers as "fuck", while the
first view keeps the text close to what was written (for Detoxify, which reads case and script).

- `text`: NFKC; zero-width, bidi, tag and control characters removed; zalgo mark stacks cut to one.
- `folded`: `text` casefolded, with Latin-lookalike letters (Greek, Cyrillic, Cherokee …) folded
  to Latin through a homoglyph table and anyascii. Other scripts are left as they are.
- `plain`: `folded` with leetspeak mapped inside words, spaced-out letters joined and runs of 3+
  equal letters squeezed to one.
- `plain_l`: as `plain` but reading "1" as "l" instead of "i" (only when a word has a "1").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from anyascii import anyascii

# Lower-case lookalikes that anyascii would transliterate by sound, not by shape (с→s, р→r …).
HOMOGLYPHS = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i",
        "ј": "j", "к": "k", "м": "m", "н": "h", "о": "o", "п": "n", "р": "p", "ԛ": "q",
        "ѕ": "s", "т": "t", "у": "y", "х": "x", "ԝ": "w", "ь": "b", "ү": "y", "ӏ": "l",
        "г": "r", "и": "u", "ц": "u", "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i",
        "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "γ": "y",
        "ω": "w", "μ": "u", "ς": "s", "σ": "o", "ϲ": "c", "ɑ": "a", "ɡ": "g",
        "ı": "i", "ȷ": "j", "ℓ": "l", "ꞵ": "b",
    }
)  # fmt: skip
LEET = {"@": "a", "4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s",
        "7": "t", "+": "t", "|": "l", "8": "b", "9": "g"}  # fmt: skip
_LEET_L = {**LEET, "1": "l"}
# Ranges whose letters are folded to Latin; other scripts (CJK, Arabic, Devanagari …) are kept.
_FOLD_RANGES = (
    (0x0080, 0x058F), (0x13A0, 0x13FF), (0x2010, 0x2027), (0x1D00, 0x1DBF), (0x1E00, 0x1FFF),
    (0x2100, 0x24FF), (0xA720, 0xA7FF), (0xAB30, 0xAB6F), (0xFF00, 0xFFEF),
    (0x1D400, 0x1D7FF), (0x1F100, 0x1F1FF),
)  # fmt: skip
_DROP_CATEGORIES = {"Cf", "Cs", "Co", "Cn"}
# A word of letters and leet characters ("sh1t", "$7@b", "70"); lone digits stay digits.
_WORD_WITH_LEET = re.compile(r"[a-z0-9@$!|+]{2,}")
_LEET_CHARS = frozenset(LEET)
# Three or more single letters each followed by 1-3 separators: "f u c k", "f.u.c.k", "f-u-c-k".
_SPACED = re.compile(r"(?<![a-z])(?:[a-z][\s.\-_*·,/\\~]{1,3}){2,}[a-z](?![a-z])")
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_RUN = re.compile(r"([a-z])\1{2,}")


@dataclass(frozen=True)
class View:
    """One normalised form of a text; `index[k]` is the original position of character k."""

    name: str
    text: str
    index: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Return the span of the original text that produced `text[start:end]`."""
        if not self.index or start >= end:
            return (0, 0)
        start, end = max(0, start), min(len(self.index), end)
        return (self.index[start], self.index[end - 1] + 1)


def _foldable(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _FOLD_RANGES)


def _clusters(text: str):
    """Yield (start index, base character + its combining marks) for each character cluster."""
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or unicodedata.category(text[i]) not in ("Mn", "Me"):
            yield start, text[start:i]
            start = i


def _clean(text: str) -> tuple[list[str], list[int]]:
    if text.isascii() and (text.isprintable() or not _ASCII_CONTROL.search(text)):
        return list(text), list(range(len(text)))
    chars: list[str] = []
    index: list[int] = []
    for i, cluster in _clusters(text):
        base = cluster[0]
        category = unicodedata.category(base)
        if base not in "\n\t" and (category in _DROP_CATEGORIES or category == "Cc"):
            continue  # marks riding on a dropped character go with it
        composed = unicodedata.normalize("NFKC", cluster)
        # Real accents compose into one letter above; marks left on a Latin-like letter are
        # decoration (zalgo). Other scripts need their marks: keep at most two per letter.
        marks_kept = 0 if _foldable(base) or base.isascii() else 2
        kept_marks = 0
        for out in composed:
            if unicodedata.category(out) in ("Mn", "Me"):
                kept_marks += 1
                if kept_marks > marks_kept:
                    continue
            chars.append(out)
            index.append(i)
    return chars, index


def _fold(text: str, chars: list[str], index: list[int]) -> tuple[str, list[int]]:
    if text.isascii():
        return text.lower(), index
    out: list[str] = []
    out_index: list[int] = []
    for ch, i in zip(chars, index, strict=True):
        if ch < "\x80":
            out.append(ch.lower())
            out_index.append(i)
            continue
        for lower in ch.casefold():
            if unicodedata.category(lower) in ("Mn", "Me") and _foldable(lower):
                continue  # anyascii reads some marks as letters (U+0363 is a small "a")
            folded = lower.translate(HOMOGLYPHS)
            if folded == lower and _foldable(lower):
                folded = anyascii(lower).lower()
            for c in folded:
                out.append(c)
                out_index.append(i)
    return "".join(out), out_index


def _deleting(text: str, index: list[int], pattern: re.Pattern, keep) -> tuple[str, list[int]]:
    """Apply deletions: inside each match of `pattern`, keep the characters where `keep` says."""
    if not pattern.search(text):
        return text, index
    mask = [True] * len(text)
    for match in pattern.finditer(text):
        for k in range(match.start(), match.end()):
            mask[k] = keep(text, k, match)
    kept = [k for k in range(len(text)) if mask[k]]
    return "".join(text[k] for k in kept), [index[k] for k in kept]


def _leet(text: str, table: dict[str, str]) -> str:
    if not _LEET_CHARS.intersection(text):
        return text

    def swap(match: re.Match) -> str:
        word = match.group()
        if not _LEET_CHARS.intersection(word):
            return word
        return "".join(table.get(c, c) for c in word)

    return _WORD_WITH_LEET.sub(swap, text)


def segment(letters: str, lexicon: Mapping[str, float]) -> list[str]:
    """Return `letters` split into the cheapest sequence of words; `lexicon` gives each known
    word's cost (rarer words cost more), an unknown run costs 10 per letter."""
    n = len(letters)
    best: list[tuple[float, int]] = [(0.0, 0)] + [(float("inf"), 0)] * n
    for end in range(1, n + 1):
        for start in range(max(0, end - 24), end):
            word = letters[start:end]
            cost = lexicon.get(word, 10.0 * len(word))
            if best[start][0] + cost < best[end][0]:
                best[end] = (best[start][0] + cost, start)
    words, end = [], n
    while end > 0:
        start = best[end][1]
        words.append(letters[start:end])
        end = start
    return words[::-1]


def _join_spaced(
    text: str, index: list[int], lexicon: Mapping[str, float] | None
) -> tuple[str, list[int]]:
    """Join spaced-out letters ("f u c k  y o u"); split the run into words with `lexicon`."""
    if not _SPACED.search(text):
        return text, index
    out: list[str] = []
    out_index: list[int] = []
    last = 0
    for match in _SPACED.finditer(text):
        out += text[last : match.start()]
        out_index += index[last : match.start()]
        positions = [k for k in range(match.start(), match.end()) if text[k].isalpha()]
        letters = "".join(text[k] for k in positions)
        words = segment(letters, lexicon) if lexicon else [letters]
        k = 0
        for w, word in enumerate(words):
            if w:
                out.append(" ")
                out_index.append(index[positions[k - 1]])
            out += word
            out_index += [index[p] for p in positions[k : k + len(word)]]
            k += len(word)
        last = match.end()
    out += text[last:]
    out_index += index[last:]
    return "".join(out), out_index


def _plain(
    folded: str, index: list[int], table: dict[str, str], lexicon: Mapping[str, float] | None
) -> tuple[str, list[int]]:
    text = _leet(folded, table)  # one character for one: the index is unchanged
    text, index = _join_spaced(text, index, lexicon)
    return _deleting(text, index, _RUN, lambda t, k, m: k == m.start())


def views(text: str, lexicon: Mapping[str, float] | None = None) -> list[View]:
    """Return the distinct normalised views of `text`, the closest to the original first.

    `lexicon` (known word -> cost) lets spaced-out letters be split back into words."""
    chars, index = _clean(text)
    cleaned = View("text", "".join(chars), tuple(index))
    folded, folded_index = _fold(cleaned.text, chars, index)
    out = [cleaned, View("folded", folded, tuple(folded_index))]
    plain, plain_index = _plain(folded, folded_index, LEET, lexicon)
    out.append(View("plain", plain, tuple(plain_index)))
    if "1" in folded:
        plain_l, plain_l_index = _plain(folded, folded_index, _LEET_L, lexicon)
        out.append(View("plain_l", plain_l, tuple(plain_l_index)))
    seen: set[str] = set()
    distinct = []
    for view in out:
        if view.text not in seen:
            seen.add(view.text)
            distinct.append(view)
    return distinct
