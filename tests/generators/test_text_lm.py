"""The text family: a tiny GPT-2 built here, and the packaged SmolLM2 default."""

import pytest

from generators.models import text_lm
from generators.schema import MAX_NEW_TOKENS, RequestError, TextRequest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return text_lm.load("tiny", tmp_path_factory.mktemp("home"))


def test_same_seed_same_text_and_seeds_differ(tiny):
    a = text_lm.generate(tiny, [TextRequest("a red heart", 12, seed=1)])[0]
    b = text_lm.generate(tiny, [TextRequest("a red heart", 12, seed=1)])[0]
    c = text_lm.generate(tiny, [TextRequest("a red heart", 12, seed=2)])[0]
    assert a.text == b.text and a.tokens == 12 and a.finish_reason == "length"
    assert (a.text, a.seed) != (c.text, c.seed)


def test_batching_with_left_padding_matches_one_at_a_time(tiny):
    requests = [
        TextRequest("a", 8, temperature=0.0),
        TextRequest("once upon a time there", 8, temperature=0.0),
    ]
    batched = text_lm.generate(tiny, requests)
    alone = [text_lm.generate(tiny, [r])[0] for r in requests]
    assert [r.text for r in batched] == [r.text for r in alone]


def test_long_prompt_is_cut_from_the_left_with_a_note(tiny):
    (result,) = text_lm.generate(tiny, [TextRequest("the cat " * 300, 8, seed=3)])
    assert result.tokens == 8 and "cut from the left" in result.notes[0]


def test_stop_strings_and_progress(tiny):
    steps = []
    greedy = text_lm.generate(tiny, [TextRequest("once upon", 16, temperature=0.0)])[0].text
    stop = greedy[3:5] if len(greedy) > 5 else greedy[-1]
    (result,) = text_lm.generate(
        tiny,
        [TextRequest("once upon", 16, temperature=0.0, stop=(stop,))],
        progress=lambda s, n: steps.append((s, n)),
    )
    assert result.finish_reason == "stop" and stop not in result.text
    assert steps and steps[0] == (1, 16)


@pytest.mark.parametrize(
    ("body", "notes"),
    [
        (
            {"prompt": "a", "max_new_tokens": 10_000},
            [f"max_new_tokens 10000 clamped to {MAX_NEW_TOKENS}"],
        ),
        ({"prompt": "a", "temperature": 0}, []),
        ({"prompt": "a", "temperature": 100}, ["temperature 100 clamped to 2"]),
    ],
)
def test_clamping_is_stated(body, notes):
    assert list(TextRequest.parse(body).notes) == notes


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "a", "stop": "x"},
        {"prompt": "a", "top_p": 0},
        {"prompt": ""},
        {"prompt": "a", "seed": "1"},
    ],
)
def test_bad_text_requests(body):
    with pytest.raises(RequestError):
        TextRequest.parse(body)


def test_packaged_smollm2_converts_once_and_writes(tmp_path):
    lm = text_lm.load(text_lm.PACKAGED_NAME, tmp_path)
    weights = tmp_path / "models" / text_lm.PACKAGED_NAME / "model.safetensors"
    assert lm.chat and weights.is_file()
    converted = weights.stat().st_mtime_ns
    again = text_lm.load(text_lm.PACKAGED_NAME, tmp_path)
    assert weights.stat().st_mtime_ns == converted  # loaded from the folder, not converted again
    (result,) = text_lm.generate(
        again, [TextRequest("Write one short sentence about a red heart.", 24, seed=1)]
    )
    assert result.tokens > 3 and sum(c.isalpha() for c in result.text) > 10


def test_packaged_smollm2_rows_joining_mid_batch_write_what_they_write_alone(tmp_path):
    """Rotary positions count each row's own tokens: a row that joins SmolLM2's running batch
    (continuous batching) writes, greedily, what it writes alone."""
    from generators.models import text_decoding

    lm = text_lm.load(text_lm.PACKAGED_NAME, tmp_path)
    first = TextRequest("Name three colours.", 12, temperature=0.0)
    late = TextRequest("Write one word about the sea.", 6, temperature=0.0)
    decoding, results = text_decoding.Decoding(lm), {}
    results.update(decoding.join([("first", first)]))
    for step in range(12):
        results.update(decoding.join([("late", late)] if step == 3 else []))
        results.update(decoding.step())
    assert len(decoding) == 0
    assert results["first"].text == text_lm.generate(lm, [first])[0].text
    assert results["late"].text == text_lm.generate(lm, [late])[0].text
