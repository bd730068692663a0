"""`genbot eval music`: the metric functions on known inputs, and a dry run that ships a card."""

import json
import math

import pytest
import torch

from data import synthetic
from generators import eval_music, evaluate, music_stats
from generators.models import music_lm
from generators.music_render import Sound

METRIC_KEYS = (
    "bits_per_token_valid",
    "bits_per_token_train_sample",
    "bits_per_token_unigram_baseline",
    "validity",
    "key_fit",
    "meter_fit",
    "adherence",
    "reference_key_fit",
    "reference_meter_fit",
    "reference_adherence",
    "pitch_class_js",
    "pitch_class_js_floor",
    "interval_js",
    "interval_js_floor",
    "memorised",
    "memorised_reference_share",
    "samples_checked",
    "seconds",
    "histograms",
)
D_SCALE = "X:1\nT:scale\nM:4/4\nL:1/8\nK:D\n|:DEFG ABcd|dcBA GFED:|\n"


@pytest.mark.parametrize(
    ("p", "q", "distance"),
    [
        ([1, 2, 3], [1, 2, 3], 0.0),
        ([1, 2, 3], [2, 4, 6], 0.0),  # histograms are normalised first
        ([1, 0], [0, 1], 1.0),  # disjoint
        ([1, 0], [1, 1], math.sqrt((math.log2(4 / 3) + 0.5 * math.log2(2 / 3) + 0.5) / 2)),
    ],
)
def test_jensen_shannon_distance(p, q, distance):
    assert music_stats.js_distance(p, q) == pytest.approx(distance, abs=1e-9)
    assert music_stats.js_distance(q, p) == pytest.approx(distance, abs=1e-9)


def test_an_empty_histogram_has_no_distance():
    with pytest.raises(ValueError):
        music_stats.js_distance([0, 0], [1, 1])


@pytest.mark.parametrize(
    ("key", "tonic", "scale"),
    [
        ("D", 2, {2, 4, 6, 7, 9, 11, 1}),
        ("Em", 4, {4, 6, 7, 9, 11, 0, 2}),
        ("Ador", 9, {9, 11, 0, 2, 4, 6, 7}),
        ("Gmix", 7, {7, 9, 11, 0, 2, 4, 5}),
        ("Bb", 10, {10, 0, 2, 3, 5, 7, 9}),
        ("F#m", 6, {6, 8, 9, 11, 1, 2, 4}),
    ],
)
def test_key_classes(key, tonic, scale):
    assert music_stats.key_classes(key) == (tonic, frozenset(scale))


def test_a_tune_in_d_major_fits_d_and_its_meter():
    heard = eval_music.hear(D_SCALE)
    assert heard is not None
    assert music_stats.in_key_share(heard.sounds, "D") == 1.0
    assert music_stats.in_key_share(heard.sounds, "Bm") == 1.0  # the relative minor: same notes
    assert music_stats.in_key_share(heard.sounds, "F") < eval_music.KEY_FIT
    assert music_stats.full_bar_share(heard.bars, "4/4") == 1.0
    assert music_stats.full_bar_share(heard.bars, "6/8") == 0.0


def test_unplayable_abc_is_not_heard():
    assert eval_music.hear("X:1\nM:4/4\nL:1/8\nK:D\n| z4 |\n") is None


@pytest.mark.parametrize(
    ("bars", "meter", "share"),
    [
        ([(0.5, "|"), (3, "|"), (3, "|"), (2.5, ":|"), (0.5, "|"), (3, "|")], "6/8", 1.0),
        ([(3, "|"), (1.5, "|"), (3, "|"), (3, "|")], "6/8", 0.75),  # a short bar mid-strain
        ([(3, "|"), (4.5, "|"), (3, "|")], "6/8", 2 / 3),  # a long bar is never full
        ([(4, "|"), (4, "|")], "6/8", 0.0),
        ([(2, "|"), (4, "|")], "2/2", 1.0),  # a pickup
        ([], "4/4", 0.0),
    ],
)
def test_full_bar_share(bars, meter, share):
    assert music_stats.full_bar_share(bars, meter) == pytest.approx(share)


def test_histograms_count_time_above_the_tonic_and_steps_of_the_top_line():
    # D, E, a chord of D and F# held twice as long, then A an octave and a third higher.
    sounds = [Sound(0, 1, 62), Sound(1, 1, 64), Sound(2, 2, 62), Sound(2, 2, 66), Sound(4, 1, 81)]
    pcs = music_stats.pitch_class_histogram(sounds, "D")
    assert pcs.tolist() == pytest.approx([3 / 7, 0, 1 / 7, 0, 2 / 7, 0, 0, 1 / 7, 0, 0, 0, 0])
    steps = music_stats.interval_histogram(sounds)
    span = music_stats.SPAN
    assert steps[span + 2] == pytest.approx(2 / 3) and steps[2 * span] == pytest.approx(1 / 3)
    assert music_stats.interval_histogram([Sound(0, 1, 60)]).sum() == 0  # one note has no step


class Uniform(torch.nn.Module):
    """A language model that knows nothing: the same logit for every token."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.vocab = vocab

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return torch.zeros(*ids.shape, self.vocab)


def test_bits_per_token_of_a_uniform_model_is_log2_of_the_vocabulary():
    tunes = synthetic.tunes()
    codec = music_lm.Codec(music_lm.build_vocab(tunes))
    vocab = len(codec.vocab)
    bits = eval_music.bits_per_token(Uniform(vocab), codec, tunes, context=64, batch=5)
    assert bits == pytest.approx(math.log2(vocab))
    # Scored: the body and <eos>, not the header the request gives.
    assert len(eval_music.scored(codec, tunes[0], 64)) == len(tunes[0].body) + 1
    assert music_stats.unigram_bits([], [[1, 2, 3]], vocab) == pytest.approx(math.log2(vocab))
    skewed = music_stats.unigram_bits([[1] * 50], [[1, 1]], vocab)
    assert skewed < math.log2(vocab) < music_stats.unigram_bits([[1] * 50], [[2, 2]], vocab)


def test_memorisation_finds_copied_notes_and_characters():
    train = ["ABcd efge | dBGB AFDF | GABc dedB | dBAF GBAG | FAdf afdf | g2fe dcBA |]"]
    notes_copied = "A B c d e f g e d B G B A F D F G A B c | zzz"  # same notes, other spacing
    chars_copied = "z2 | " + train[0][5:50]
    fresh = "CDEF GABc | cBAG FEDC | CEGc egc'e |"
    assert music_stats.memorised([notes_copied, chars_copied, fresh], train) == [True, True, False]
    assert music_stats.note_tokens("^F2 G/ A,3 =c'") == ("^F2", "G/", "A,3", "=c'")


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    assert eval_music.main(["--dry-run", "--ship", str(home / "ship")], home=home) == 0
    return home


def test_a_dry_run_writes_every_metric_a_report_and_samples(dry_run):
    out = dry_run / "runs" / "music-eval-dry-run" / "eval"
    metrics = json.loads((out / "metrics.json").read_text())
    assert [k for k in METRIC_KEYS if k not in metrics] == []
    assert metrics["data"] == "synthetic" and metrics["samples_checked"] == 8
    assert metrics["meter_constraint"] is True  # sampled as /compose samples
    for share in ("validity", "key_fit", "meter_fit", "adherence", "memorised_reference_share"):
        assert 0.0 <= metrics[share] <= 1.0, share
    assert (out / "report.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "samples.abc").read_text().count("X:") == eval_music.SHOWN


def test_a_dry_run_ships_a_model_card(dry_run):
    ship = dry_run / "ship"
    for name in ("model.pt", "metrics.json", "report.png", "samples.abc", "MODEL_CARD.md"):
        assert (ship / name).is_file(), name
    card = (ship / "MODEL_CARD.md").read_text()
    assert "| metric | model | validation tunes |" in card
    assert "Ryan's Mammoth" in card and "Essen" in card and "public domain" in card
    assert "--seed 0" in card and "Apache-2.0" in card and "{" not in card
    assert "with the meter constraint" in card


def test_genbot_eval_music_is_deterministic(dry_run, tmp_path):
    again = tmp_path / "again"
    assert evaluate.main(["music", "--dry-run", "--out", str(again)], home=dry_run) == 0
    first = json.loads((dry_run / "ship" / "metrics.json").read_text())
    second = json.loads((again / "metrics.json").read_text())
    timing = ("seconds", "eval_seconds")
    assert {k: v for k, v in first.items() if k not in timing} == {
        k: v for k, v in second.items() if k not in timing
    }
    assert (again / "samples.abc").read_text() == (dry_run / "ship" / "samples.abc").read_text()
