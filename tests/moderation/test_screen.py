"""The offline stack (lexical + rules + PII) end to end through Screener.screen.

Recall here means "not allowed" (held for review or refused): what a moderator would see."""

import pytest

from moderation.policy import policy_for
from moderation.scorers.lexical import LexicalScorer
from moderation.screen import MAX_CHARS, Screener
from tests.moderation.corpus import BENIGN, TOXIC_ENDINGS, TOXIC_SEEDS, TRANSFORMS, long_text

PG13 = policy_for("pg13")


@pytest.fixture(scope="module")
def screener():
    s = Screener([LexicalScorer()])
    assert s.load() == []
    return s


def caught(screener, texts, direction="prompt"):
    verdicts = screener.screen(texts, direction, PG13)
    return sum(v.action != "allow" for v in verdicts) / len(texts)


def test_clean_toxic_seeds_are_caught(screener):
    assert caught(screener, TOXIC_SEEDS) >= 0.9


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
def test_evasion_recall_is_at_least_95_percent_of_clean_recall(screener, transform):
    clean = caught(screener, TOXIC_SEEDS)
    evaded = caught(screener, [TRANSFORMS[transform](t) for t in TOXIC_SEEDS])
    assert evaded >= 0.95 * clean, f"{transform}: {evaded:.3f} vs clean {clean:.3f}"


def test_benign_texts_are_rarely_blocked(screener):
    verdicts = screener.screen(BENIGN, "prompt", PG13)
    blocked = [t for t, v in zip(BENIGN, verdicts, strict=True) if v.action == "block"]
    assert len(blocked) / len(BENIGN) <= 0.02, blocked
    identity = [t for t in BENIGN if t.startswith(("I am", "I'm", "my", "we are", "as a"))]
    assert all(v.action != "block" for v in screener.screen(identity, "prompt", PG13))


def test_a_toxic_sentence_after_600_benign_tokens_is_always_caught(screener):
    texts = [long_text(seed) + " " + TOXIC_ENDINGS[seed % len(TOXIC_ENDINGS)] for seed in range(25)]
    assert all(len(t.split()) >= 600 for t in texts)
    verdicts = screener.screen(texts, "prompt", PG13)
    assert all(v.action != "allow" for v in verdicts)
    for text, verdict in zip(texts, verdicts, strict=True):
        start, end = verdict.top.span
        assert start > len(text) - 60 and text[start:end].strip()  # points at the ending


def test_long_benign_texts_pass(screener):
    verdicts = screener.screen([long_text(seed) for seed in range(10)], "output", PG13)
    assert all(v.action == "allow" for v in verdicts)


def test_identity_statement_passes_but_an_attack_does_not(screener):
    ok, attack = screener.screen(["I am a gay Muslim woman", "I hate gay people"], "prompt", PG13)
    assert ok.action == "allow" and any("counterfactual" in n for n in ok.notes)
    assert attack.action == "block" and attack.top.label == "identity_attack"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x" * 100_000,
        "a\ud800b",
        "😀🎨🔥" * 30,
        "\u0301\u0302\u0303" * 50,
        "Привет мир hello 你好 مرحبا",
        None,
        12345,
    ],
)
def test_any_input_gets_a_verdict(screener, text):
    (verdict,) = screener.screen([text], "prompt", PG13)
    assert verdict.action in ("allow", "flag", "block")


def test_oversized_text_is_held_not_passed(screener):
    (verdict,) = screener.screen(["hello " * (MAX_CHARS // 5)], "output", PG13)
    assert verdict.action == "flag" and any("screened up to" in n for n in verdict.notes)


class BrokenScorer:
    """A learned scorer that always fails, like a model whose weights went missing."""

    name, version, window_words = "broken", "0", None

    def load(self):
        pass

    def score(self, texts):
        raise RuntimeError("CUDA error: device-side assert")


def test_a_failing_scorer_fails_closed_for_outputs_only():
    screener = Screener([LexicalScorer(), BrokenScorer()])
    screener.load()
    (output,) = screener.screen(["a picture of a cat"], "output", PG13)
    (prompt,) = screener.screen(["a picture of a cat"], "prompt", PG13)
    assert output.action == "flag" and output.top.label == "scorer_failure"
    assert prompt.action == "allow" and "scorers failed: broken" in prompt.notes


def test_guild_rules_apply_to_that_call_only(screener):
    from moderation.scorers.rules import Rule

    rule = Rule("spam", "pineapple pizza")
    (with_rule,) = screener.screen(["I love pineapple pizza"], "prompt", PG13, [rule])
    (without,) = screener.screen(["I love pineapple pizza"], "prompt", PG13)
    assert with_rule.action == "block" and without.action == "allow"
