"""Continuous batching of the text family (`text_decoding.Decoding`) on a tiny GPT-2 built
here: rows that join a running batch, or leave it early, write what they write alone."""

import pytest

from generators.models import text_decoding, text_lm
from generators.schema import TextRequest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return text_lm.load("tiny", tmp_path_factory.mktemp("home"))


def alone(lm, request):
    return text_lm.generate(lm, [request])[0]


def run(decoding, joins: dict[int, list]) -> dict:
    """Step `decoding` until it is empty, joining joins[step] before that step; return the
    results by key."""
    results, step = {}, 0
    while len(decoding) or any(k >= step for k in joins):
        results.update(decoding.join(joins.get(step, [])))
        results.update(decoding.step())
        step += 1
    return results


def test_a_row_that_joins_mid_batch_writes_what_it_writes_alone(tiny):
    first = TextRequest("once upon a time there", 20, temperature=0.0)
    late = TextRequest("a", 6, temperature=0.0)
    later = TextRequest("the red heart of the", 9, seed=4)  # sampled: its own generator
    decoding = text_decoding.Decoding(tiny)
    results = run(decoding, {0: [("first", first)], 5: [("late", late)], 7: [("later", later)]})
    for key, request in (("first", first), ("late", late), ("later", later)):
        assert results[key].text == alone(tiny, request).text, key
        assert results[key].tokens == request.max_new_tokens
    assert decoding.mask is None and decoding.cache is None  # everything left


def test_short_rows_leave_at_once_and_the_cache_shrinks(tiny):
    decoding = text_decoding.Decoding(tiny)
    short, long = TextRequest("a b", 2, seed=1), TextRequest("c d e f g h i j", 12, seed=2)
    assert decoding.join([("short", short), ("long", long)]) == []
    widest = decoding.mask.shape[1]
    finished = decoding.step()  # short has its two tokens: it leaves
    assert [key for key, _ in finished] == ["short"] and len(decoding) == 1
    assert decoding.mask.shape[0] == 1 and decoding.mask.all()  # the padding column went
    assert decoding.mask.shape[1] <= widest + 1
    for layer in decoding.cache.layers:
        assert layer.keys.shape[0] == 1 and layer.keys.shape[2] == decoding.mask.shape[1]


def test_dropped_rows_leave_without_a_result(tiny):
    decoding = text_decoding.Decoding(tiny)
    decoding.join([("gone", TextRequest("x y z", 10, seed=1)), ("kept", TextRequest("q", 4))])
    decoding.drop({"gone"})
    results = run(decoding, {})
    assert set(results) == {"kept"} and results["kept"].tokens == 4


def test_a_one_token_answer_finishes_at_join(tiny):
    decoding = text_decoding.Decoding(tiny)
    ((key, result),) = decoding.join([("one", TextRequest("hello", 1, seed=3))])
    assert key == "one" and result.tokens == 1 and len(decoding) == 0


def test_a_sliding_window_model_batches_a_whole_batch_at_a_time(tiny):
    """Sliding-window layers keep only their window, so rows cannot be merged into them: a
    request that arrives mid-batch waits for the batch to empty, then writes what it writes
    alone."""
    import torch
    from transformers import MistralConfig, MistralForCausalLM

    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=len(tiny.tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        sliding_window=4,
        max_position_embeddings=128,
        pad_token_id=tiny.tokenizer.pad_token_id,
    )
    lm = text_lm.LM(MistralForCausalLM(config).eval(), tiny.tokenizer, "mistral-tiny", False, 128)
    first = TextRequest("once upon a time there", 8, temperature=0.0)
    late = TextRequest("a red heart", 5, temperature=0.0)
    decoding = text_decoding.Decoding(lm)
    results = dict(decoding.join([("first", first)]))
    assert not text_decoding._mergeable(decoding.cache)
    results.update(decoding.step())
    assert decoding.join([("late", late)]) == [] and len(decoding.waiting) == 1
    while len(decoding):
        assert not ("late" in {row.key for row in decoding.rows} and "first" not in results)
        results.update(decoding.step())
    assert results["first"].text == alone(lm, first).text
    assert results["late"].text == alone(lm, late).text and results["late"].tokens == 5
