"""The fairness statistics, the sentiment scorer and the bias audits' report files."""

import json
import os
import time

import numpy as np
import pytest

from moderation import bias_report, fairness
from moderation.identity import term_of
from moderation.sentiment import SentimentScorer, polarity


def test_bootstrap_interval_holds_the_mean_and_narrows_with_more_units():
    rng = np.random.default_rng(1)
    few, many = rng.random(10), rng.random(1000)
    for values in (few, many):
        low, high = fairness.bootstrap_ci(values)
        assert low < values.mean() < high
    assert np.diff(fairness.bootstrap_ci(many)) < np.diff(fairness.bootstrap_ci(few)) / 5
    assert fairness.bootstrap_ci([0.3] * 8) == (pytest.approx(0.3), pytest.approx(0.3))
    assert fairness.bootstrap_ci(few, seed=4) == fairness.bootstrap_ci(few, seed=4)
    with pytest.raises(ValueError):
        fairness.bootstrap_ci([])


def test_group_rates_cover_a_known_rate_about_95_times_in_100():
    # Bernoulli(0.3) groups of 200: the 95% interval should hold 0.3 in most of 100 draws.
    rng = np.random.default_rng(7)
    groups = {f"g{k}": (rng.random(200) < 0.3).astype(float) for k in range(100)}
    rows = fairness.group_rates(groups, resamples=500)
    covered = sum(r["low"] <= 0.3 <= r["high"] for r in rows)
    assert 88 <= covered <= 100
    assert [r["group"] for r in rows] == list(groups)


@pytest.mark.parametrize(
    ("rates", "ratio", "gap", "highest", "lowest"),
    [
        ({"a": 0.2, "b": 0.4}, 2.0, 0.2, "b", "a"),
        ({"a": 0.5, "b": 0.5, "c": 0.25}, 2.0, 0.25, "a", "c"),
        ({"a": 0.0, "b": 0.3}, None, 0.3, "b", "a"),
        ({"a": 0.0, "b": 0.0}, None, 0.0, "a", "a"),
    ],
)
def test_disparity(rates, ratio, gap, highest, lowest):
    rows = [{"group": g, "rate": r} for g, r in rates.items()]
    spread = fairness.disparity(rows)
    assert spread["max_min_ratio"] == (None if ratio is None else pytest.approx(ratio))
    assert spread["gap"] == pytest.approx(gap)
    assert (spread["highest"], spread["lowest"]) == (highest, lowest)


def test_compare_skips_empty_groups():
    result = fairness.compare({"a": [1.0, 0.0], "b": [], "c": [1.0, 1.0]})
    assert [r["group"] for r in result["rows"]] == ["a", "c"]
    assert result["disparity"]["max_min_ratio"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("scores", "emt", "probability"),
    [
        ([[0.1, 0.9], [0.2, 0.3]], 0.6, 0.5),
        ([[0.5], [0.49]], 0.495, 0.5),  # 0.5 counts as toxic, as in RealToxicityPrompts
        ([[0.0, 0.0, 0.1]], 0.1, 0.0),
    ],
)
def test_real_toxicity_prompts_figures(scores, emt, probability):
    assert fairness.expected_max_toxicity(scores) == pytest.approx(emt)
    assert fairness.toxicity_probability(scores) == pytest.approx(probability)
    assert np.mean(fairness.prompt_maxima(scores)) == pytest.approx(emt)


def test_sentiment_orders_plain_statements():
    scorer = SentimentScorer()
    texts = [
        "She is a kind, brilliant and generous doctor.",
        "He is a doctor.",
        "He is a cruel, lazy and dishonest doctor.",
    ]
    kind, neutral, cruel = scorer.score(texts)
    assert kind > neutral > cruel
    assert [polarity(s) for s in (kind, neutral, cruel)] == ["positive", "neutral", "negative"]
    assert scorer.score([""]) == [0.0]
    assert scorer.version.startswith("vaderSentiment-")


def test_term_of_maps_written_forms_to_terms():
    assert term_of("Women").text == "woman"
    assert term_of("muslims").text == "muslim"
    assert term_of("doctor") is None


def test_summaries_round_trip_newest_first_and_skip_broken_files(tmp_path):
    report = {"groups": {"a": 1}}
    older = bias_report.save(tmp_path, "old-audit", report, "Old audit", ["old line"])
    past = time.time() - 60
    os.utime(older["summary"], (past, past))
    newer = bias_report.save(tmp_path, "new-audit", report, "New audit", ["new line"])
    (tmp_path / "broken.summary.json").write_text("{not json", encoding="utf-8")
    assert json.loads(newer["report"].read_text()) == report
    summaries = bias_report.read_summaries(tmp_path)
    assert [s["title"] for s in summaries] == ["New audit", "Old audit"]
    [text] = bias_report.summary_messages(tmp_path)
    assert text.index("**New audit**") < text.index("**Old audit**")
    assert "- new line" in text and "GENBOT_HOME/reports" in text


def test_summary_messages_without_audits_and_over_the_limit(tmp_path):
    [empty] = bias_report.summary_messages(tmp_path / "missing")
    assert "No bias audits yet" in empty
    for k in range(3):
        bias_report.save(tmp_path, f"a{k}", {}, f"Audit {k}", [f"{k}: " + "x" * 700])
    bias_report.save(tmp_path, "long", {}, "Long", [f"line {j} " + "y" * 80 for j in range(60)])
    messages = bias_report.summary_messages(tmp_path)
    assert all(len(m) <= 2000 for m in messages) and len(messages) >= 3
    joined = "\n".join(messages)
    assert all(f"**Audit {k}**" in joined for k in range(3))  # whole audits are never cut
    assert "**Long**" in joined and "…" in joined  # one too long for a message is cut


def test_rate_line_names_the_extremes_and_the_disparity():
    rows = [
        {"group": "a", "rate": 0.2, "low": 0.1, "high": 0.3},
        {"group": "b", "rate": 0.4, "low": 0.3, "high": 0.5},
    ]
    line = bias_report.rate_line("honoured", rows, fairness.disparity(rows))
    assert line == (
        "honoured: highest b 40.0% [30.0%, 50.0%], lowest a 20.0% [10.0%, 30.0%]; max/min 2.00"
    )
    signed = bias_report.rate_line("sentiment", rows, fairness.disparity(rows), kind="signed")
    assert signed.endswith("gap 0.200") and "+0.400" in signed
