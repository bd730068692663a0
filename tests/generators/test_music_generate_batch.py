"""`music_lm.generate_batch`: many tunes at once with cached keys and values, the same model."""

import dataclasses
from fractions import Fraction

import pytest
import torch

from data import folk
from generators import abc_bars, music_render
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


def full_bars(body: str, meter: str, unit: str) -> bool:
    """Whether every bar but the first (a pickup) and the last (cut by the limit) is full."""
    full = Fraction(meter) / Fraction(unit)
    return all(length == full for length in abc_bars.measure(body, meter, unit)[1:-1])


def test_the_meter_constraint_keeps_every_bar_of_an_untrained_model_full():
    """An untrained model writes noise; constrained, its bars still come out full, one tune at a
    time and in a batch, and music21 measures them so; unconstrained, they do not."""
    tunes = [t for t in folk.read_corpus() if t.split == "train"][:8]
    # The whole corpus's characters, as the shipped model has.
    vocab = music_lm.build_vocab(folk.read_corpus())
    torch.manual_seed(0)
    model = music_lm.build(dataclasses.replace(music_lm.PRESETS["tiny"], vocab=vocab))
    codec = music_lm.Codec(vocab)
    headers = [(t.rhythm, t.meter, t.key, t.unit) for t in tunes]
    rng = torch.Generator().manual_seed(1)
    batch = music_lm.generate_batch(model, codec, headers, rng, 200, 1.0)
    alone = [music_lm.generate(model, codec, h, rng, 200) for h in headers[:3]]
    free = music_lm.generate_batch(model, codec, headers, rng, 200, 1.0, 0, False)
    for (_, meter, _, unit), body in zip(headers + headers[:3], batch + alone, strict=True):
        assert full_bars(body, meter, unit), body
        whole = body[: max(body.rfind("|"), body.rfind(":")) + 1]
        abc = f"X:1\nT:t\nM:{meter}\nL:{unit}\nK:D\n{whole}\n"
        quarters = 4 * Fraction(meter)
        bars = [length for length, _ in music_render.bar_lengths(abc)][1:]
        assert all(abs(x - quarters) < 1e-6 for x in bars), body
    bars = [abc_bars.measure(b, h[1], h[3]) for h, b in zip(headers, batch, strict=True)]
    assert max(map(len, bars)) >= 3
    assert refused(free, headers) > 0 and refused(batch, headers) == 0


def refused(bodies: list[str], headers: list) -> int:
    """Return how many characters of `bodies` the tracker would have masked."""
    count = 0
    for (_, meter, _, unit), body in zip(headers, bodies, strict=True):
        s = abc_bars.start(meter, unit)
        for ch in body:
            s, ok = abc_bars.step(s, ch)
            count += not ok
    return count
