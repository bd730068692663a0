"""The meter constraint's bar tracker (`abc_bars`): bars measured as music21 measures them, and
which next characters keep every bar full, on real tunes, made-up prefixes and random walks."""

import random
from fractions import Fraction

import pytest

from data import folk, synthetic
from generators import abc_bars, music_render
from tests.generators.test_music_render import KESH


def music21_bars(body: str, meter: str, unit: str) -> list[float]:
    """Return music21's bar lengths of a body, in quarter notes (what `eval music` scores)."""
    abc = f"X:1\nT:t\nM:{meter}\nL:{unit}\nK:D\n{body}\n"
    return [length for length, _ in music_render.bar_lengths(abc)]


def quarters(body: str, meter: str, unit: str) -> list[float]:
    """Return the tracker's bar lengths of a body, in quarter notes."""
    return [float(x * 4 * Fraction(unit)) for x in abc_bars.measure(body, meter, unit)]


def after(prefix: str, meter: str = "4/4", unit: str = "1/8") -> abc_bars.Bars:
    s = abc_bars.start(meter, unit)
    for ch in prefix:
        s = abc_bars.feed(s, ch)
    return s


@pytest.fixture(scope="module")
def corpus():
    return folk.read_corpus()[::8]


@pytest.mark.parametrize(
    ("body", "meter", "unit", "bars"),
    [
        ("A>B c<d e>>f g2 |", "4/4", "1/8", [4.0]),  # a broken pair keeps its total
        ("(3ABc (3ABc d2 e2 |", "6/8", "1/8", [4.0]),  # three in the time of two
        ("(2AB c4 d2 |", "6/8", "1/8", [4.5]),  # two in the time of three
        ("[A2E2C]2 A | [CEG] A | [C2E]A |", "4/4", "1/8", [2.5, 1.0, 1.5]),  # its first note
        ("A3/2B/ A/4 A// A/ A3/ c4 |", "4/4", "1/8", [4.25]),
        ("{g}A8 | A2-A6 |", "4/4", "1/8", [4.0, 4.0]),  # grace notes and ties last nothing
        ("|:A8 |1 A8 :|2 A8 |]", "4/4", "1/8", [4.0, 4.0, 4.0]),
        ("B2``G2 .A ~B uC vD |", "4/4", "1/8", [4.0]),  # nor do spacers and decorations
        ("d/e/ (3:2:3def g3 |", "2/4", "1/16", [1.5]),
    ],
)
def test_bars_are_measured_as_music21_measures_them(body, meter, unit, bars):
    assert quarters(body, meter, unit) == pytest.approx(bars)
    assert music21_bars(body, meter, unit) == pytest.approx(bars)


def test_on_the_folk_tunes_bars_are_measured_as_music21_measures_them(corpus):
    same = checked = 0
    for tune in corpus:
        try:
            theirs = music21_bars(tune.body, tune.meter, tune.unit)
        except Exception:  # music21 cannot read a few tunes at all
            continue
        ours, checked = quarters(tune.body, tune.meter, tune.unit), checked + 1
        same += len(ours) == len(theirs) and ours == pytest.approx(theirs)
    # The rest: notation music21 misreads (G:: as a field, [1 as a bar line, a>.b2) or drops.
    assert checked > 500 and same / checked >= 0.97


def test_the_kesh_is_allowed_character_by_character_and_its_bars_are_full():
    body = " ".join(KESH.split("K:G\n")[1].split())
    s = abc_bars.start("6/8", "1/8")
    for ch in body:
        s, ok = abc_bars.step(s, ch)
        assert ok, ch
    assert abc_bars.can_end(s)
    assert abc_bars.measure(body, "6/8", "1/8") == [6] * 16


def test_every_bar_line_of_a_regular_folk_tune_is_allowed_where_it_stands(corpus):
    """In tunes whose bars music21 finds full (the first may be a pickup), each bar line may
    come where it stands, and in a full bar no note may start instead."""
    regular = 0
    for tune in corpus:
        try:
            bars = music21_bars(tune.body, tune.meter, tune.unit)
        except Exception:
            continue
        full = 4 * Fraction(tune.meter)
        if not bars or any(abs(length - full) > 1e-6 for length in bars[1:]):
            continue
        regular, s = regular + 1, abc_bars.start(tune.meter, tune.unit)
        for k, ch in enumerate(tune.body):
            if ch in "|:" and s.mode != abc_bars.BAR:
                assert abc_bars.step(s, ch)[1], (tune.body[: k + 1], tune.meter)
                # (An empty bar, `:| |`, may still take notes.)
                assert s.pickup or s.bar == 0 or not abc_bars.step(s, "A")[1], tune.body[: k + 1]
            s = abc_bars.feed(s, ch)
    assert regular >= 40


def test_a_short_bar_is_a_pickup_first_and_refused_later():
    tune = synthetic.tunes()[0]  # a reel in 4/4 with four eighths a bar
    first = tune.body.index("|")
    second = tune.body.index("|", first + 1)
    assert abc_bars.step(after(tune.body[:first]), "|")[1]
    assert not abc_bars.step(after(tune.body[:second]), "|")[1]
    assert abc_bars.step(after(tune.body[:second]), "A")[1]


@pytest.mark.parametrize(
    ("prefix", "ch", "ok"),
    [
        ("", "|", True),  # a bar line before any note: an empty bar
        ("AB", "|", True),  # the first bar, a pickup
        ("A8|AB", "|", False),  # a short bar later on
        ("A8|A8", "|", True),
        ("A8|A8", ":", True),
        ("A8|A8", "B", False),  # no note in a full bar
        ("A8|A8", ".", False),  # nor a decoration, which leads to one
        ("A8|A6", "B", True),
        ("A8|A7B", "2", False),  # B2 would run past the bar
        ("A8|A7B", "/", True),
        ("A8|A6B", "3", True),  # B3/2 may still follow
        ("A8|A6B3", " ", False),  # B3 does not fit
        ("A8|A6B3", "/", True),
        ("A8|A6B2", "/", False),  # B2/2 is written B
        ("A8|A6B", ">", True),  # B>c, c as long as B, fills the bar
        ("A8|A7B", ">", False),
        ("A8|A6B>", "|", False),  # the pair's second note is owed
        ("A8|A6B>", "c", True),
        ("A8|A4B>c", "2", False),  # the second note is as long as the first
        ("A8|", "1", True),  # an ending
        ("A8|", "3", False),  # music21 reads only 1 and 2
        ("A8|A7G", ":", True),
        ("A8|A7G:", ":", False),  # music21 reads G:: as a field G:
        ("A8|A7G:", "|", True),
        ("A8|A6", "x", False),  # music21 gives x no length
        ("A8|A6", "H", False),  # music21 drops the note after H
        ("A8|A6", "k", False),
        ("A8|A6", "!", False),
        ("A8|A6.", "|", False),
        ("A8|A6.", "B", True),
        ("A8|A6(", "3", True),
        ("A8|A7(", "3", False),  # a triplet of eighths needs two eighths
        ("A8|A2(3B2c", " ", False),  # a tuplet's notes keep the first one's length
        ("A8|A2(3B2c", "2", True),
        ("A8|[CE]", "2", True),
        ("A8|A7[CE]", "2", False),
    ],
)
def test_what_may_come_next(prefix, ch, ok):
    assert abc_bars.step(after(prefix), ch)[1] is ok


@pytest.mark.parametrize(
    ("prefix", "ok"),
    [
        ("", False),
        ("AB", False),
        ("A8", True),
        ("A8|", True),
        ("A8|A7", False),
        ("A8|A8", True),
        ("A8|A6B>", False),
        ("A8|[CE", False),
    ],
)
def test_a_tune_ends_only_at_the_end_of_a_bar(prefix, ok):
    assert abc_bars.can_end(after(prefix)) is ok


def test_the_mask_covers_the_vocabulary_and_is_never_empty():
    vocab = ("<pad>", "<bos>", "<eos>", "<unk>", "<M:4/4>", "A", "|", "2")
    mask = abc_bars.allowed(after("A8|A8"), vocab)
    assert mask == (False, False, True, False, False, False, True, False)
    assert abc_bars.allowed(after("A8|A6"), ("<eos>", "|")) == (True, True)  # else a dead end
    assert abc_bars.start("C", "1/8") is None  # not a fraction: nothing to constrain


def test_random_walks_never_stall_and_music21_finds_their_bars_full(corpus):
    """Characters drawn at random among the allowed ones (as an untrained model draws them)
    always leave one allowed, or the end; every bar but the first and the last is full."""
    chars = sorted({ch for tune in corpus for ch in tune.body})
    meters = [("4/4", "1/8"), ("6/8", "1/8"), ("3/4", "1/8"), ("2/4", "1/16"), ("9/8", "1/8")]
    rng = random.Random(0)
    for walk in range(40):
        meter, unit = meters[walk % len(meters)]
        s, body = abc_bars.start(meter, unit), ""
        for _ in range(150):
            choices = [ch for ch in chars if abc_bars.step(s, ch)[1]]
            assert choices or abc_bars.can_end(s), (body, meter)
            if not choices:
                break
            body += rng.choice(choices)
            s = abc_bars.feed(s, body[-1])
        body = body[: body.rfind("|") + 1]  # whole bars: a cut chord is unreadable
        full = 4 * Fraction(meter)
        assert all(abs(x - full) < 1e-6 for x in music21_bars(body, meter, unit)[1:]), body


def test_a_vocabulary_without_some_digits_never_reaches_a_dead_end(corpus):
    """A model whose corpus never wrote `4` or `8` (the tiny test vocabularies) is not led into
    a note length only those could finish (`G3/` in a bar with one unit left)."""
    chars = sorted(set("ABCDEFGabcdefgz|:/23 ,'()[]^_=<>.") - set("48"))
    vocab = ("<eos>", *chars)
    rng = random.Random(1)
    for walk in range(30):
        meter, unit = [("4/4", "1/8"), ("6/8", "1/8"), ("2/4", "1/16")][walk % 3]
        s = abc_bars.start(meter, unit)
        for _ in range(120):
            mask = abc_bars._mask(s, vocab)
            assert any(mask), (meter, s)  # the fallback (everything) is never needed
            choices = [t for t, ok in zip(vocab, mask, strict=True) if ok and t != "<eos>"]
            if not choices:
                break
            s = abc_bars.feed(s, rng.choice(choices))
    s = after("A8|A7G3")
    assert abc_bars.step(s, "/")[1] and not abc_bars._viable(s, "/", vocab)
