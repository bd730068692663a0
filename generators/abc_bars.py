"""Bar lengths of an ABC body as it is written, one character at a time, and which next characters
keep every bar full: the meter constraint on the music family's sampling (pure, no torch).

A `Bars` state holds the length written so far in the current bar, in units of the tune's L:
(exact fractions), and where the writer is in a note, chord, tuplet or bar line. `step` reads one
character and says whether it keeps the bars fillable: a bar line closes only a full bar (or the
first one, a pickup up to a bar long, or an empty one), no note starts in a full bar, and no
note's written length runs past the bar's end. Lengths are read as music21 reads them, since its
bar lengths are what `genbot eval music` scores: broken rhythms (`>` `<`) keep the pair's total,
tuplets scale their notes, a chord lasts as its first note, grace notes and decorations last
nothing. Where the grammar leaves a doubt, a character is allowed; what music21 misreads is not:
`x` and `Z` rests, `H`, inline fields, `!…!` spans, letters that are not notes or decorations, a
decoration before anything but a note or chord, endings past 2. A character that is not allowed
still moves the state on (leniently), so that any body can be read.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from fractions import Fraction

NOTES = frozenset("ABCDEFGabcdefg")
ACCIDENTALS = frozenset("^_=")
DIGITS = frozenset("0123456789")
# What music21 reads as a decoration of the note that follows (H, a fermata, drops the note).
DECORATIONS = frozenset(".~LMOPSTuv")
# The bar lines and endings music21 reads as such: it takes a lone `:` for a (dotted) bar line
# and `[3` for the start of a chord.
BAR_LINES = frozenset({"|", "||", "|]", "[|", ":|", "|:", "::"})
ENDINGS = ("1", "2")
BAR_PREFIXES = frozenset(line[:k] for line in BAR_LINES for k in range(1, len(line) + 1))
SPANS = {"!": "!", "+": "+", '"': '"'}  # long decorations and annotations: skipped to their end
EOS = "<eos>"
SHORTEST = Fraction(1, 8)  # of a unit: A/8, A///
MAX_VOICES = 4
ONE, ZERO = Fraction(1), Fraction(0)

FREE, NOTE, ACCIDENTAL, BRACKET, BAR, ENDING, PAREN, TUPLET, BROKEN, SPAN, DECORATED = range(11)


@dataclass(frozen=True)
class Bars:
    """Where the writer of an ABC body is: the current bar's length so far and the open token."""

    full: Fraction  # one bar, in units of L:
    compound: bool  # 6/8, 9/8, 12/8: (5 (7 (9 are in the time of three
    bar: Fraction = ZERO  # the finished notes of the current bar
    pickup: bool = True  # no bar with notes closed yet: the first may be short
    begun: bool = False  # a note has been written
    mode: int = FREE
    text: str = ""  # the bar line, tuplet, accidentals or broken rhythm being written
    base: Fraction = ONE  # the open note's length before its own (a chord's: its first note's)
    length: str = ""  # the open note's length as written so far (3/2, //)
    octaves: str = ""  # the octave marks that may still follow the open note (B,, c'')
    scale: Fraction = ONE  # tuplet and broken-rhythm factor of the open note or chord
    chord: Fraction | None = None  # inside [..]: its first note's length, once written
    in_chord: bool = False
    voices: int = 0  # notes begun in the open chord
    grace: bool = False
    last: Fraction | None = None  # the note just finished, which a broken rhythm changes
    factor: Fraction = ONE  # a broken rhythm's factor for the next note
    pair: Fraction = ZERO  # and the length of its first one, which the next one takes
    tuplet: Fraction = ONE
    left: int = 0  # notes of the tuplet still to come
    beat: Fraction | None = None  # the tuplet's first note's written length, which the rest keep
    capital: bool = False  # the last character was a capital (or a colon after one)


def start(meter: str, unit: str) -> Bars | None:
    """Return the state before a body in `meter` (`6/8`) with unit `unit` (`1/8`), or None for a
    meter or unit that is not a fraction (nothing to constrain)."""
    match, length = re.fullmatch(r"(\d+)/(\d+)", meter), re.fullmatch(r"(\d+)/(\d+)", unit)
    if not match or not length or 0 in (int(match[2]), int(length[1]), int(length[2])):
        return None
    full = Fraction(int(match[1]), int(match[2])) / Fraction(int(length[1]), int(length[2]))
    return Bars(full, match[1] in ("6", "9", "12") and match[2] == "8") if full > 0 else None


def room(s: Bars) -> Fraction:
    """Return what is left of the current bar (negative when a forced note overfilled it)."""
    return s.full - s.bar


def fits_note(s: Bars) -> bool:
    """Return whether the shortest note (an eighth of a unit, in a tuplet or broken rhythm as
    they are) still fits in the bar: what lets a note, or what leads to one, begin."""
    return room(s) >= SHORTEST * s.factor * s.tuplet


def full(s: Bars) -> bool:
    """Return whether the bar is full: no note fits any more (after a tuplet, within an eighth of
    a unit)."""
    return room(s) < SHORTEST


def closes(s: Bars) -> bool:
    """Return whether a bar line may come now: the bar is full, empty, or the first (a pickup)."""
    if s.factor != 1 or s.in_chord or s.grace or (s.left and fits_note(s)):
        return False  # a broken rhythm's second note, a tuplet's notes or a chord's end is owed
    return s.bar == 0 or full(s) or s.pickup


def can_end(s: Bars) -> bool:
    """Return whether the tune may end here (<eos>): at the end of a bar, after some notes."""
    ok = True
    if s.mode == NOTE:
        s, ok = _commit(s)
    if s.mode == BAR:
        ok = ok and s.text in BAR_LINES
    elif s.mode != FREE:
        return False
    return ok and s.begun and closes(s) and (s.bar == 0 or full(s))


def step(s: Bars, ch: str) -> tuple[Bars, bool]:
    """Return the state after the character `ch` and whether `ch` keeps the bars fillable."""
    after, ok = _MODES[s.mode](s, ch)
    capital = ch.isupper() or (ch == ":" and s.capital)
    return (after if after.capital == capital else replace(after, capital=capital)), ok


def feed(s: Bars, token: str) -> Bars:
    """Return the state after a sampled token (a character; other tokens change nothing)."""
    return step(s, token)[0] if len(token) == 1 else s


def allowed(s: Bars, vocab: tuple[str, ...]) -> tuple[bool, ...]:
    """Return, per vocabulary token, whether it may come next: a character that keeps the bars
    fillable, <eos> at the end of a bar; everything when nothing would be (never a dead end)."""
    mask = _mask(s, vocab)
    return mask if any(mask) else (True,) * len(vocab)


@functools.lru_cache(maxsize=1 << 13)
def _mask(s: Bars, vocab: tuple[str, ...]) -> tuple[bool, ...]:
    return tuple(can_end(s) if t == EOS else len(t) == 1 and _viable(s, t, vocab) for t in vocab)


def _viable(s: Bars, ch: str, vocab: tuple[str, ...]) -> bool:
    """Return whether `ch` may come next: allowed, and when it writes part of a note's length
    (A3/ …), a length the vocabulary can finish (no `A3/` where `4` and `8` are missing)."""
    after, ok = step(s, ch)
    if ok and after.mode == NOTE and (ch in DIGITS or ch == "/"):
        chars = _characters(vocab)
        return any(
            text.startswith(after.length)
            and set(text[len(after.length) :]) <= chars
            and _fits(after, length)
            for text, length in LENGTHS.items()
        )
    return ok


@functools.lru_cache(maxsize=8)
def _characters(vocab: tuple[str, ...]) -> frozenset[str]:
    return frozenset(t for t in vocab if len(t) == 1)


def measure(body: str, meter: str, unit: str) -> list[Fraction]:
    """Return the length of each bar of `body` with notes (in units of L:), the last, open one
    included, as the tracker reads it: what music21's bar lengths should match."""
    s, lengths = start(meter, unit), []
    if s is None:
        raise ValueError(f"not a meter and unit: {meter!r}, {unit!r}")
    for ch in body + " ":  # the space finishes a last note
        after = step(s, ch)[0]
        if after.mode == BAR and not (s.mode == BAR and s.text + ch in BAR_PREFIXES):
            lengths.append((_commit(s)[0] if s.mode == NOTE else s).bar)  # a bar line began
        s = after
    return [length for length in [*lengths, s.bar] if length > 0]


def value(length: str) -> Fraction:
    """Return what a note's written length (`3/2`, `/`, `//`, `` for one unit) stands for."""
    match = re.fullmatch(r"(\d*)(/*)(\d*)", length)
    if match is None:
        raise ValueError(f"not a note length: {length!r}")
    num, slashes, den = match.groups()
    return Fraction(int(num or 1), int(den or 1) if den and den != "0" else 2 ** len(slashes))


def _spellings() -> dict[str, Fraction]:
    """Return the lengths a note may be given, each as the tunes write it: up to 16 units, down
    to an eighth of one, fractions in lowest terms (3/2 or 3/, never 2/2 or 6/4), so that the
    model never writes A/22 or A2/2 to fill a gap."""
    whole = {"": ONE} | {str(n): Fraction(n) for n in range(1, 17)}
    halves = {f"{n}/": Fraction(n, 2) for n in range(3, 17, 2)}
    parts = {f"{n}/{d}": Fraction(n, d) for d in (2, 4, 8) for n in range(1, 17, 2)}
    bare = {"/": Fraction(1, 2), "//": Fraction(1, 4), "///": Fraction(1, 8)}
    return whole | halves | parts | bare | {f"/{d}": Fraction(1, d) for d in (2, 4, 8)}


LENGTHS = _spellings()
# Each beginning of a length, with the lengths it may still become.
STARTS = {
    text[:k]: tuple(v for t, v in LENGTHS.items() if t.startswith(text[:k]))
    for text in LENGTHS
    for k in range(len(text) + 1)
}


def _fits(s: Bars, length: Fraction) -> bool:
    """Return whether the open note may take the written length `length` (times its base): it
    fits in the bar and, in a tuplet, is as long as the tuplet's first note, the rest of the
    tuplet fitting too."""
    if s.grace or (s.in_chord and s.chord is not None):
        return True  # a grace note lasts nothing; a chord lasts as its first note
    written = s.base * length
    if s.in_chord:
        return written * s.scale <= room(s)  # the chord's own length, after ], may change it
    if written * s.scale * max(1, s.left) > room(s) or (written / SHORTEST).denominator != 1:
        return False  # too long, or off the grid of eighths of a unit ([C3/8]3/4)
    if s.factor != 1 and written != s.pair:
        return False  # a>b2 leaves the bar a sixteenth off its grid
    return not s.left or s.beat is None or written == s.beat


def _commit(s: Bars) -> tuple[Bars, bool]:
    """Return the state once the open note has ended, and whether its length was allowed."""
    written = s.base * value(s.length)
    ok = s.length in LENGTHS and _fits(s, LENGTHS[s.length])
    s = replace(s, mode=FREE, base=ONE, length="", octaves="")
    if s.grace or s.in_chord:
        return (replace(s, chord=written) if s.in_chord and s.chord is None else s), ok
    actual, left = written * s.scale, max(0, s.left - 1)
    beat = (s.beat or written) if left else None
    last = actual if s.factor == 1 else None  # no chains (a>b>c): music21 reads them otherwise
    s = replace(s, bar=s.bar + actual, last=last, factor=ONE, scale=ONE, left=left, beat=beat)
    return replace(s, begun=True, tuplet=s.tuplet if left else ONE), ok


def _start(s: Bars, letter: str) -> Bars:
    """Return the state with the note (or rest) `letter` begun: below the staff it may take two
    commas, above it two apostrophes, as far as the tunes go."""
    octaves = "" if letter == "z" else ",," if letter.isupper() else "''"
    scale = s.scale if s.in_chord or s.grace else s.factor * s.tuplet
    return replace(s, mode=NOTE, octaves=octaves, length="", text="", scale=scale)


def _note(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after a note's letter: its octave, its length, or what follows the note."""
    if ch in ",'" and s.octaves.startswith(ch):
        return replace(s, octaves=s.octaves[1:]), True
    length = s.length + ch
    if (ch in DIGITS or ch == "/") and re.fullmatch(r"\d*/*\d*", length):
        # Allowed while it may still become a length that fits (c3// is none: music21 reads
        # it as c3/).
        ok = any(_fits(s, v) for v in STARTS.get(length, ()))
        return replace(s, length=length, octaves=""), ok
    s, ok = _commit(s)
    after, ok_next = _free(s, ch)
    return after, ok and ok_next


def _close(s: Bars, line: str) -> tuple[Bars, bool]:
    """Return the state after the first character of a bar line, and whether the bar may end."""
    pickup = s.pickup and s.bar == 0
    after = replace(s, mode=BAR, text=line, bar=ZERO, pickup=pickup, last=None, factor=ONE)
    return after, closes(s)


def _broken(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A broken rhythm after a note: `a>b` is a dotted and b halved, `a<b` the reverse (`>>`
    and `<<` by 7/4 and 1/4); allowed when the pair, b as long as a, fits in the bar."""
    a = s.last
    if a is None or len(s.text) == 2 or (s.text and s.text != ch):
        return replace(s, mode=FREE, text=""), False
    change = (a / 2, a / 4) if ch == ">" else (-a / 2, -a / 4)
    factor = (Fraction(1, 2), Fraction(1, 4)) if ch == ">" else (Fraction(3, 2), Fraction(7, 4))
    k = len(s.text)
    # b as long as a fits and can be written (not in a tuplet, nor a's length one of its notes).
    ok = k == 1 or (s.bar + a <= s.full and (a / SHORTEST).denominator == 1 and not s.left)
    after = replace(s, mode=BROKEN, text=s.text + ch, bar=s.bar + change[k], factor=factor[k])
    return replace(after, pair=a), ok


def _free(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character between notes (inside a chord or grace notes: see those)."""
    if s.grace:
        return _in_grace(s, ch)
    if s.in_chord:
        return _in_chord(s, ch)
    if ch in "<>":
        return _broken(s, ch)
    tied, s = s.last is not None, replace(s, last=None, mode=FREE, text="")
    if ch in NOTES or ch == "z":
        return _start(s, ch), fits_note(s)
    if ch in "|:":
        return _close(s, ch)
    if ch == "[":  # a chord (not in a tuplet), an ending or [|
        return replace(s, mode=BRACKET, text=ch), (fits_note(s) and not s.left) or closes(s)
    if ch in ACCIDENTALS or ch == "(":
        return replace(s, mode=PAREN if ch == "(" else ACCIDENTAL, text=ch), fits_note(s)
    if ch in SPANS:
        return replace(s, mode=SPAN, text=SPANS[ch]), False
    return _symbol(s, ch, tied)


def _symbol(s: Bars, ch: str, tied: bool) -> tuple[Bars, bool]:
    """A character that lasts nothing: a tie, a slur's end, a space; or grace notes, a
    decoration or a spacer (`), which lead to a note and so need room for one (a full bar takes
    its bar line, not a run of dots). Other letters and signs are not ABC music21 follows: x
    lasts nothing there, a letter after a decoration becomes a note (`Lk` a C)."""
    if ch == "-":
        return s, tied
    if ch in " )":
        return s, True
    if ch == "Z":
        return replace(s, bar=max(s.bar, s.full), begun=True), False  # bars of rest: unknown
    if ch in DECORATIONS:
        return replace(s, mode=DECORATED), fits_note(s)
    return replace(s, grace=s.grace or ch == "{"), ch in "`{" and fits_note(s)


def _in_chord(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character inside [..]: its notes, or its end, after which the chord takes a length."""
    if ch in NOTES or ch in ACCIDENTALS:
        s = replace(s, voices=s.voices + 1)  # a chord that never ends is unplayable: four at most
        after = _start(s, ch) if ch in NOTES else replace(s, mode=ACCIDENTAL, text=ch)
        return after, s.voices <= MAX_VOICES
    if ch == "]":
        base, ok = s.chord or ONE, s.chord is not None
        return replace(s, in_chord=False, voices=0, chord=None, mode=NOTE, base=base), ok
    return s, False


def _in_grace(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character inside {..}: grace notes, which last nothing."""
    if ch in NOTES:
        return _start(s, ch), True
    if ch in ACCIDENTALS:
        return replace(s, mode=ACCIDENTAL, text=ch), True
    return (replace(s, grace=False), True) if ch == "}" else (s, ch == "/")


def _accidental(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after ^ _ =: another (^^ __) or the note's letter."""
    if ch in NOTES:
        return _start(s, ch), True
    if ch in ACCIDENTALS and s.text + ch in ("^^", "__"):
        return replace(s, text=s.text + ch), True
    after, _ = _free(replace(s, mode=FREE, text=""), ch)
    return after, False


def _bracket(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after `[`: a chord's first note, an ending's number, `[|`, or an inline field."""
    decorated, s = s.text != "[", replace(s, mode=FREE, text="")
    if ch in NOTES or ch in ACCIDENTALS:
        chord = replace(s, in_chord=True, chord=None, scale=s.factor * s.tuplet)
        after, ok = _in_chord(chord, ch)
        # A tuplet's notes, and a broken rhythm's, are single notes.
        return after, ok and fits_note(s) and not s.left and s.factor == 1
    if ch in DIGITS:
        return replace(s, mode=ENDING), s.bar == 0 and ch in ENDINGS and not decorated
    if ch == "|":
        after, ok = _close(s, "[|")
        return after, ok and not decorated
    if ch.isalpha():  # [K:G], [M:2/4]: a field the tracker does not follow
        return replace(s, mode=SPAN, text="]"), False
    return _free(s, ch)[0], False


def _bar(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after the start of a bar line: more of it, an ending's number, or the next
    bar's first character (when the bar line is complete)."""
    if s.text + ch in BAR_PREFIXES:
        # music21 reads "G::" as a header field (G:), and the rest of the line with it.
        return replace(s, text=s.text + ch), not (s.text == ":" == ch and s.capital)
    if ch in DIGITS and s.text.endswith("|"):
        return replace(s, mode=ENDING, text=""), s.text in ("|", ":|") and ch in ENDINGS
    complete = s.text in BAR_LINES
    after, ok = _free(replace(s, mode=FREE, text=""), ch)
    return after, ok and complete


def _ending(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after an ending's number (|1, [2): the bar's notes (or more numbers, 1,2 1-3,
    which music21 does not read)."""
    if ch in DIGITS or ch in ",-":
        return s, False
    return _free(replace(s, mode=FREE), ch)


def _paren(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after `(`: a tuplet's number, or the first character under a slur."""
    if ch in "23456789":
        q = _tuplet_time(s, int(ch))
        return replace(s, mode=TUPLET, text=ch), s.bar + q <= s.full and not s.left  # not nested
    return _free(replace(s, mode=FREE, text=""), ch)


def _tuplet_time(s: Bars, p: int) -> int:
    """Return the notes' time a tuplet of `p` notes takes by default (ABC 2.1 §4.13)."""
    return {2: 3, 3: 2, 4: 3, 6: 2, 8: 3}.get(p, 3 if s.compound else 2)


def _tuplet(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character of a tuplet's (p:q:r, or the first note under it."""
    if re.fullmatch(r"[2-9](:[1-9]?){0,2}", s.text + ch):
        return replace(s, text=s.text + ch), True
    p, q, r = ([int(x) if x else 0 for x in s.text.split(":")] + [0, 0])[:3]
    ratio = Fraction(q or _tuplet_time(s, p), p)
    return _free(replace(s, mode=FREE, text="", tuplet=ratio, left=r or p, beat=None), ch)


def _broken_next(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after `>` or `<`: another, or the start of the pair's second note (music21
    misreads a pair with a staccato dot or a tuplet after the sign: a>.b2, a>(3bcd)."""
    if ch in "<>":
        return _broken(s, ch)
    after, ok = _free(replace(s, mode=FREE, text="", last=None), ch)
    return after, ok and (ch in NOTES or ch in ACCIDENTALS or ch in "z~")


def _span(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character inside a skipped span (!trill!, [K:G]): anything, until its closing one."""
    return (replace(s, mode=FREE, text=""), True) if ch == s.text else (s, True)


def _decorated(s: Bars, ch: str) -> tuple[Bars, bool]:
    """A character after a decoration: the note, rest or chord it decorates (music21 turns a
    decoration before anything else, another decoration before a chord included, into a C)."""
    after, ok = _free(replace(s, mode=FREE), ch)
    if ch == "[":
        after = replace(after, text="[.")  # a chord, not an ending or [|
    return after, ok and (ch in NOTES or ch in ACCIDENTALS or ch in "z[")


_MODES = {
    FREE: _free,
    NOTE: _note,
    ACCIDENTAL: _accidental,
    BRACKET: _bracket,
    BAR: _bar,
    ENDING: _ending,
    PAREN: _paren,
    TUPLET: _tuplet,
    BROKEN: _broken_next,
    SPAN: _span,
    DECORATED: _decorated,
}
