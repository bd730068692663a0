"""The bias audit: its metrics on known inputs, and the default stack against its targets."""

import json

import pytest

from moderation.audit import TEMPLATES, auc, audit, items, power_mean
from moderation.identity import TERMS, mentions, neutralise
from moderation.policy import policy_for
from moderation.scorers.lexical import LexicalScorer
from moderation.screen import Screener


def test_auc_and_power_mean():
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5], [0.5]) == 0.5
    assert auc([], [0.1]) is None
    assert power_mean([0.9, 0.9]) == pytest.approx(0.9)
    assert power_mean([1.0, 0.5]) < 0.6  # p = -5 leans on the worst value


def test_identity_terms_and_templates_are_what_the_issue_asks():
    assert 45 <= len(TERMS) <= 70 and len(TEMPLATES) >= 20
    assert {t.group for t in TERMS} == {
        "gender", "sexual orientation", "religion", "ethnicity or nationality", "age",
        "disability",
    }  # fmt: skip
    assert len(items()) == len(TERMS) * len(TEMPLATES)
    assert neutralise("I am a gay Muslim woman") == "I am a tall tall person"
    assert mentions("African American women") == ["african american", "women"]


@pytest.fixture(scope="module")
def report():
    screener = Screener([LexicalScorer()])
    screener.load()
    return audit(lambda texts: screener.screen(texts, "prompt", policy_for()))


def test_default_stack_meets_the_fairness_targets(report):
    assert report["max_abs_fped_gap"] <= 0.05
    assert report["identity_only_blocked"] <= 0.01
    assert report["statements"] == len(items())
    json.dumps(report)  # JSON-ready


def test_cli_writes_json_and_chart(genbot, home):
    result = genbot("audit", "moderation", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "without counterfactual" in result.stdout and "learned scorers only" in result.stdout
    data = json.loads((home / "reports" / "moderation-audit.json").read_text())
    assert data["variants"]["genbot"]["max_abs_fped_gap"] <= 0.05
    png = (home / "reports" / "moderation-audit.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_articles_follow_the_sound_of_the_identity_term():
    from moderation.identity import article

    assert [article(w) for w in ("asian", "european", "unitarian", "older", "gay")] == [
        "an",
        "a",
        "a",
        "an",
        "a",
    ]
