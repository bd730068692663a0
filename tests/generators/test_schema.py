"""Request validation: every bad value names its field; nothing crashes."""

import pytest

from generators.schema import (
    MAX_PROMPT_CHARS,
    MUSIC_MAX_NEW_TOKENS,
    ImageRequest,
    MusicRequest,
    RequestError,
    VariationRequest,
)


def test_defaults_and_whitespace():
    request = ImageRequest.parse({"prompt": "  red\n heart  "})
    assert request == ImageRequest("red heart", 4, 0)
    assert ImageRequest.parse({"prompt": "ハート", "num_samples": 1, "seed": 2**40}).seed == 2**40


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({}, "prompt", "must be a string"),
        ({"prompt": "   "}, "prompt", "is empty"),
        ({"prompt": "x" * 10_000}, "prompt", f"the limit is {MAX_PROMPT_CHARS}"),
        ({"prompt": "a", "num_samples": 0}, "num_samples", "between 1 and 16"),
        ({"prompt": "a", "num_samples": 999}, "num_samples", "between 1 and 16"),
        ({"prompt": "a", "num_samples": "4"}, "num_samples", "must be an integer"),
        ({"prompt": "a", "num_samples": True}, "num_samples", "must be an integer"),
        ({"prompt": "a", "seed": -1}, "seed", "between 0"),
    ],
)
def test_bad_image_requests(body, field, reason):
    with pytest.raises(RequestError) as info:
        ImageRequest.parse(body)
    assert info.value.field == field and reason in info.value.reason


@pytest.mark.parametrize(
    ("body", "field"),
    [({"strength": -1}, "strength"), ({"strength": "x"}, "strength"), ({"steps": 1}, "steps")],
)
def test_bad_variation_requests(body, field):
    with pytest.raises(RequestError) as info:
        VariationRequest.parse(body)
    assert info.value.field == field


def test_music_options_are_normalised_and_sampling_clamped():
    request = MusicRequest.parse(
        {"prompt": "a tune", "key": "f#m", "meter": "C|", "rhythm": "Slip-Jig", "temperature": 9}
    )
    assert (request.key, request.meter, request.rhythm) == ("F#m", "2/2", "slip jig")
    assert request.temperature == 2.0 and request.notes == ("temperature 9 clamped to 2",)
    capped = MusicRequest.parse({"prompt": "a", "max_new_tokens": 10**6})
    assert capped.max_new_tokens == MUSIC_MAX_NEW_TOKENS and "clamped" in capped.notes[0]
    assert MusicRequest.parse({"prompt": "a", "key": None}).key is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"key": "H#"}, "key"),
        ({"key": "D banana"}, "key"),
        ({"key": 4}, "key"),
        ({"meter": "banana"}, "meter"),
        ({"meter": "7/3"}, "meter"),
        ({"meter": "99/8"}, "meter"),
        ({"rhythm": "tango"}, "rhythm"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"temperature": "hot"}, "temperature"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_music_requests(body, field):
    with pytest.raises(RequestError) as info:
        MusicRequest.parse({"prompt": "a jig", **body})
    assert info.value.field == field and info.value.reason
