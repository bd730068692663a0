"""Normalised views undo evasion tricks and point back into the original text."""

import pytest

from moderation.normalize import segment, views

LEXICON = {"fuck": 1.0, "you": 1.0, "what": 1.0, "a": 1.0, "loser": 1.0, "wha": 5.0, "ta": 5.0}


def texts(text, lexicon=None):
    return {v.name: v.text for v in views(text, lexicon)}


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("ｆ𝘂ⅽκ you", "fuck you"),  # fullwidth, math, roman numeral, Greek kappa
        ("іdіоt", "idiot"),  # Cyrillic lookalikes
        ("i\u200bd\u200bi\u200bo\u200bt", "idiot"),  # zero-width spaces
        ("\u202eidiot\u202c", "idiot"),  # bidi controls
        ("i\U000e0041d\U000e0042iot", "idiot"),  # tag characters
        ("Z̷̢̛a̵l̶g̴o̸", "zalgo"),  # zalgo stacks
        ("sh1t h3ad", "shit head"),  # leetspeak
        ("$7@b", "stab"),
        ("f u c k", "fuck"),
        ("f.u.c.k", "fuck"),
        ("f-u-c-k", "fuck"),
        ("fuuuuck", "fuck"),
        ("FuCk", "fuck"),
    ],
)
def test_evasions_reach_the_plain_word(written, expected):
    assert expected in views(written)[-1].text or expected in texts(written).values()


def test_the_first_view_stays_close_to_the_original():
    first = views("Café, NFKC ﬁne")[0]
    assert first.name == "text" and first.text == "Café, NFKC fine"


def test_other_scripts_keep_their_letters_and_marks():
    hindi = "नमस्ते दुनिया"
    assert all(v.text == hindi for v in views(hindi))
    assert views("你好 world")[0].text == "你好 world"


def test_identical_views_are_not_repeated():
    assert [v.name for v in views("plain lower text")] == ["text"]


def test_spans_point_back_into_the_original():
    original = "the f.u.c.k word"
    plain = views(original)[-1]
    start = plain.text.index("fuck")
    assert plain.original_span(start, start + 4) == (4, 11)
    assert original[4:11] == "f.u.c.k"
    odd = "x іdіоt y"
    folded = views(odd)[1]
    a, b = folded.original_span(2, 7)
    assert odd[a:b] == "іdіоt"


def test_spaced_letters_are_split_back_into_words_with_a_lexicon():
    assert segment("whataloser", LEXICON) == ["what", "a", "loser"]
    assert texts("f u c k y o u", LEXICON)["plain"] == "fuck you"
    assert texts("f u c k y o u")["plain"] == "fuckyou"


@pytest.mark.parametrize(
    "text",
    ["", " ", "😀" * 50, "\u0301" * 40, "a\ud800b\udfff", "x" * 100_000, "\x00\x01\x02", "ß" * 10],
)
def test_odd_input_gives_views_not_errors(text):
    result = views(text)
    assert result and all(len(v.text) == len(v.index) for v in result)
