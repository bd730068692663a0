"""Detoxify's real loading path, on a tiny Detoxify-format checkpoint built here.

The real weights need a download this machine cannot make; the code path is the same."""

import pytest

from moderation.policy import policy_for
from moderation.scorers.lexical import LexicalScorer
from moderation.scorers.local_checkpoint import build
from moderation.scorers.toxicity import CHECKPOINT_FILES, DetoxifyScorer, weights_path, windows
from moderation.screen import Screener
from moderation.stack import build_screener, detoxify_wanted


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("detoxify"))


@pytest.fixture(scope="module")
def scorer(tiny):
    checkpoint, config = tiny
    # fp32 on every machine (auto picks bf16 on some), so that scores compare with Detoxify's
    # own predict; the bf16 path has its own test.
    s = DetoxifyScorer(checkpoint=str(checkpoint), config_path=str(config), precision="fp32")
    s.load()
    return s


def test_checkpoint_file_names_match_the_library():
    from detoxify.detoxify import MODEL_URLS

    assert {k: v.rsplit("/", 1)[-1] for k, v in MODEL_URLS.items()} == CHECKPOINT_FILES


def test_loads_through_detoxify_and_scores_every_label(scorer):
    from detoxify import Detoxify

    assert isinstance(scorer._detoxify, Detoxify)
    assert scorer.version.startswith("detoxify-local-")
    (scores,) = scorer.score(["hello you idiot"])
    assert set(scores) == {
        "toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat",
        "sexual_explicit",
    }  # fmt: skip
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    # Same numbers as Detoxify's own predict for a text inside one window.
    assert scores["toxicity"] == pytest.approx(
        scorer._detoxify.predict("hello you idiot")["toxicity"], abs=1e-5
    )


def test_batching_and_padding_do_not_change_scores(scorer):
    texts = ["short", "a somewhat longer text about a red heart and a cat", "", "idiot " * 40]
    batched = scorer.score(texts)
    alone = [scorer.score([t])[0] for t in texts]
    for b, a in zip(batched, alone, strict=True):
        assert b == pytest.approx(a, abs=1e-5)


def test_long_texts_are_scored_in_overlapping_windows(scorer):
    assert windows(list(range(10)), 4, 3) == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    assert windows([1, 2], 4, 3) == [[1, 2]]
    text = "nice day " * 600 + "you stupid idiot"
    tokens = scorer._detoxify.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    assert len(tokens) > 2 * scorer.max_tokens
    (whole,) = scorer.score([text])
    size = scorer.max_tokens - 2
    decode = scorer._detoxify.tokenizer.decode
    parts = [decode(w) for w in windows(tokens, size, size * 3 // 4)]
    expected = max(s["toxicity"] for s in scorer.score(parts))
    assert whole["toxicity"] == pytest.approx(expected, abs=1e-4)


def test_screener_uses_detoxify_next_to_the_lexical_scorer(scorer):
    screener = Screener([LexicalScorer(), scorer])
    assert screener.load() == []
    (verdict,) = screener.screen(["a red heart"], "output", policy_for())
    assert verdict.model_versions["detoxify"] == scorer.version
    assert {"toxicity", "threat"} <= set(verdict.scores)


class Settings:
    detoxify, detoxify_model, detoxify_config, device = "auto", "unbiased", None, "cpu"
    detoxify_checkpoint, detoxify_precision = None, "auto"
    nsfw_model = None


def test_stack_uses_detoxify_only_when_its_weights_are_here(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert (
        weights_path("unbiased", None)
        == tmp_path / "hub" / "checkpoints" / CHECKPOINT_FILES["unbiased"]
    )
    assert detoxify_wanted("auto", "unbiased", None)[0] is False
    assert detoxify_wanted("off", "unbiased", str(tiny[0]))[0] is False
    settings = Settings()
    settings.detoxify_checkpoint, settings.detoxify_config = str(tiny[0]), str(tiny[1])
    assert [s.name for s in build_screener(settings).learned] == ["lexical", "detoxify"]


def test_missing_weights_fail_closed_for_outputs(tmp_path):
    settings = Settings()
    settings.detoxify, settings.detoxify_checkpoint = "on", str(tmp_path / "missing.ckpt")
    screener = build_screener(settings)
    assert screener.failed_to_load == ["detoxify"]
    held, prompt = (
        screener.screen(["a red heart"], "output", policy_for())[0],
        screener.screen(["a red heart"], "prompt", policy_for())[0],
    )
    assert held.action == "flag" and held.top.label == "scorer_failure"
    assert prompt.action == "allow"


def test_doctor_reports_configured_weights(genbot, home, tiny):
    import json

    env = {"GENBOT_HOME": str(home), "GENBOT_DETOXIFY_CHECKPOINT": str(tiny[0])}
    checks = {c["name"]: c for c in json.loads(genbot("doctor", "--json", env=env).stdout)}
    assert checks["detoxify"]["status"] == "ok" and str(tiny[0]) in checks["detoxify"]["detail"]


@pytest.mark.parametrize(
    ("wanted", "device", "native", "chosen"),
    [
        ("auto", "cpu", True, "bf16"),
        ("auto", "cpu", False, "fp32"),  # emulated bf16 would be slower
        ("auto", "cuda", True, "bf16"),
        ("fp32", "cuda", True, "fp32"),
        ("bf16", "cpu", False, "bf16"),  # asked for: given
    ],
)
def test_precision_is_bf16_only_where_the_device_computes_it(wanted, device, native, chosen):
    from moderation.scorers.toxicity import choose_precision

    assert choose_precision(wanted, device, native) == chosen


def test_bf16_scores_agree_with_fp32_and_the_version_says_which(tiny):
    import torch

    checkpoint, config = tiny
    texts = ["hello you idiot", "a kind word for everyone", "I will hurt you " * 40]
    made = {}
    for precision in ("fp32", "bf16"):
        scorer = DetoxifyScorer(
            checkpoint=str(checkpoint), config_path=str(config), precision=precision
        )
        scorer.load()
        made[precision] = (scorer.version, scorer.score(texts))
        # bf16 keeps its Linear weights in bf16 (not cast again each forward), the rest fp32.
        dtypes = {p.dtype for n, p in scorer._detoxify.model.named_parameters() if "dense" in n}
        norms = {p.dtype for n, p in scorer._detoxify.model.named_parameters() if "LayerNorm" in n}
        assert dtypes == {torch.bfloat16 if precision == "bf16" else torch.float32}
        assert norms == {torch.float32}
    (v32, fp32), (v16, bf16) = made["fp32"], made["bf16"]
    assert v16 == v32 + "+bf16" and not v32.endswith("+bf16")
    for a, b in zip(fp32, bf16, strict=True):
        assert a.keys() == b.keys() and max(abs(a[k] - b[k]) for k in a) < 0.02
