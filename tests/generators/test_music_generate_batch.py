"""`music_lm.generate_batch`: many tunes at once with cached keys and values, the same model."""

import pytest
import torch

from generators.models import music_lm
from tests.generators.test_music_lm import tiny_setup


@pytest.fixture(scope="module")
def trained_tiny():
    tunes, codec, model = tiny_setup()
    opt = music_lm.optimizers(model)
    for _ in range(20):  # a little training, so that the greedy tunes differ by header
        music_lm.train_step(model, opt, music_lm.batch(codec, tunes, 64), codec.pad)
    headers = [(t.rhythm, t.meter, t.key, t.unit) for t in tunes]
    return codec, model.eval(), headers


def test_greedy_tunes_are_those_of_generate_one_at_a_time(trained_tiny):
    codec, model, headers = trained_tiny
    alone = [music_lm.generate(model, codec, h, torch.Generator(), 50, 0.0) for h in headers]
    together = music_lm.generate_batch(model, codec, headers, torch.Generator(), 50, 0.0)
    assert together == alone and any(alone)


def test_sampled_batches_are_seeded_and_keep_to_the_limit(trained_tiny):
    codec, model, headers = trained_tiny
    draw = lambda: music_lm.generate_batch(  # noqa: E731
        model, codec, headers, torch.Generator().manual_seed(5), 30, 1.0, 5
    )
    first, again = draw(), draw()
    assert first == again and len(first) == len(headers)
    assert all(len(body) <= 30 and "<eos>" not in body and "<R:" not in body for body in first)
