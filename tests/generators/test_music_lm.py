"""The music family's model and codec on a tiny preset (its training CLI comes next)."""

import dataclasses

import torch

from data import folk
from generators.models import music_lm


def tiny_setup(n=8):
    tunes = [t for t in folk.read_corpus() if t.split == "train"][:n]
    vocab = music_lm.build_vocab(tunes)
    config = dataclasses.replace(music_lm.PRESETS["tiny"], vocab=vocab)
    torch.manual_seed(0)
    return tunes, music_lm.Codec(vocab), music_lm.build(config)


def test_codec_round_trip_and_header():
    tunes, codec, _ = tiny_setup()
    ids = codec.encode(tunes[0])
    assert ids[0] == codec.bos and ids[-1] == codec.eos
    assert codec.decode(ids) == tunes[0].body
    assert codec.header("nonsense", "4/4", "D", "1/8")[1] == codec.unk


def test_training_lowers_the_loss_and_sampling_is_seeded():
    tunes, codec, model = tiny_setup()
    ids = music_lm.batch(codec, tunes, model.config.context)
    assert ids.shape[1] <= model.config.context + 1
    opt = music_lm.optimizers(model)
    first = music_lm.train_step(model, opt, ids, codec.pad)["loss"]
    for _ in range(30):
        last = music_lm.train_step(model, opt, ids, codec.pad)["loss"]
    assert last < first - 0.5
    header = (tunes[0].rhythm, tunes[0].meter, tunes[0].key, tunes[0].unit)
    a = music_lm.generate(model, codec, header, torch.Generator().manual_seed(3), 40)
    b = music_lm.generate(model, codec, header, torch.Generator().manual_seed(3), 40)
    assert a == b and len(a) <= 40 and "<R:" not in a and "<eos>" not in a
