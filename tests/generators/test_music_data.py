"""The folk-tune dataset (music21's public-domain ABC files) and the prompt → header parser."""

import pytest

from data import folk
from generators.music_header import override, parse


def test_corpus_has_the_three_collections_and_no_essen():
    tunes = folk.read_corpus()
    assert 4000 <= len(tunes) <= 4500
    assert {t.source for t in tunes} == set(folk.COLLECTIONS.values())
    assert all(t.split in ("train", "valid") for t in tunes)
    assert 0.05 < sum(t.split == "valid" for t in tunes) / len(tunes) < 0.15
    assert len({t.id for t in tunes}) == len(tunes)


def test_a_tune_is_parsed_and_cleaned():
    text = """X:7
T:The Test Reel -- a title
R: Reel
M:C|
L:1/8
K:Amix
"4"e|uvc<A (A>.B) {ga}c2 "^SEGUE"d2|\\
!trill!e2 [ce]2 (3ABc d2 :| ABcd efga | gfed cBAG |
"""
    (lines,) = list(folk.split_tunes(text))
    tune = folk.parse_tune(lines, "test")
    assert (tune.title, tune.rhythm, tune.meter, tune.key, tune.unit) == (
        "The Test Reel", "reel", "2/2", "Amix", "1/8",
    )  # fmt: skip
    assert '"' not in tune.body and "{" not in tune.body and "!" not in tune.body
    assert "u" not in tune.body and "v" not in tune.body
    assert "(3ABc" in tune.body and "[ce]2" in tune.body and "c<A" in tune.body


@pytest.mark.parametrize(
    "text",
    ["X:1\nT:no key\nM:4/4\nABcd efga|", "X:2\nT:voices\nM:4/4\nK:D\nV:1\nABcdefgabcdefgabcdefg|",
     "X:3\nT:short\nM:4/4\nK:D\nAB|"],
)  # fmt: skip
def test_unusable_tunes_are_skipped(text):
    assert folk.parse_tune(text.splitlines(), "test") is None


@pytest.mark.parametrize(
    ("raw", "key"),
    [("D", "D"), ("Gm", "Gm"), ("A minor", "Am"), ("Ador", "Ador"), ("E mixolydian", "Emix"),
     ("Bb", "Bb"), ("F#m", "F#m"), ("Z#", None), ("", None)],
)  # fmt: skip
def test_keys(raw, key):
    assert folk.normalise_key(raw) == key


def test_build_writes_tunes_and_stats(tmp_path):
    files = folk.build(tmp_path)
    assert len(folk.load(tmp_path)) == len(folk.read_corpus())
    assert folk.load(tmp_path, "valid") and files["stats"].is_file()
    with pytest.raises(FileNotFoundError, match="genbot data build music"):
        folk.load(tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("prompt", "rhythm", "meter", "key"),
    [
        ("a slow sad air in D minor", "air", "3/4", "Dm"),
        ("lively jig in G", "jig", "6/8", "G"),
        ("slip jig in A dorian", "slip jig", "9/8", "Ador"),
        ("reel in E mixolydian", "reel", "4/4", "Emix"),
        ("a hornpipe in Bb", "hornpipe", "4/4", "Bb"),
        ("waltz in F# minor", "waltz", "3/4", "F#m"),
        ("a mournful lament", "reel", "4/4", "Em"),
    ],
)
def test_prompt_to_header(prompt, rhythm, meter, key):
    header = parse(prompt)
    assert (header.rhythm, header.meter, header.key) == (rhythm, meter, key)
    assert header.abc().startswith("X:1\nT:") and f"K:{key}\n" in header.abc()


@pytest.mark.parametrize("prompt", ["K: Z# major", "", "♪♪♪ 🎻", "x" * 10_000, "in H major"])
def test_odd_prompts_fall_back_to_defaults_and_say_so(prompt):
    header = parse(prompt)
    assert header.rhythm and header.key and header.notes
    assert 40 <= header.tempo <= 200 and len(header.title) <= 60


def test_mood_moves_the_tempo():
    assert parse("a slow air").tempo < parse("an air").tempo < parse("a lively air").tempo


def test_options_override_what_the_prompt_implied():
    slow = parse("a slow sad tune")
    jig = override(slow, rhythm="jig")
    assert (jig.rhythm, jig.meter, jig.key) == ("jig", "6/8", "Em") and jig.notes == ()
    assert jig.tempo == slow.tempo - 112 + 116  # the mood's slowing is kept
    told = override(parse("a jolly jig in D 9/8"), rhythm="waltz", key="Gm")
    assert (told.rhythm, told.meter, told.key) == ("waltz", "9/8", "Gm")  # 9/8 was asked for
    assert override(slow, meter="3/4").meter == "3/4"
