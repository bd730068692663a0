"""decide() is a pure function: table tests over plain data, no models."""

import json

import pytest

from moderation.policy import (
    PRESETS,
    Evidence,
    Thresholds,
    decide,
    policy_for,
    policy_from_json,
)
from moderation.verdict import Verdict

PG13 = policy_for("pg13")


@pytest.mark.parametrize(
    ("evidence", "direction", "action", "top"),
    [
        ([], "prompt", "allow", None),
        ([Evidence("toxicity", 0.5, "lexical")], "prompt", "allow", None),
        ([Evidence("toxicity", 0.85, "lexical")], "prompt", "flag", "toxicity"),
        ([Evidence("toxicity", 0.98, "lexical")], "prompt", "block", "toxicity"),
        ([Evidence("toxicity", 0.7, "lexical")], "output", "flag", "toxicity"),  # outputs stricter
        ([Evidence("sexual_minors", 0.6, "rules")], "prompt", "block", "sexual_minors"),
        (
            [Evidence("pii", 0.9, "pii:email"), Evidence("threat", 0.9, "rules")],
            "prompt",
            "block",
            "threat",  # a blocking reason comes before a flagging one
        ),
        ([Evidence("made_up_label", 1.0, "x")], "prompt", "allow", None),
    ],
)
def test_decide_table(evidence, direction, action, top):
    verdict = decide(evidence, PG13, direction)
    assert verdict.action == action
    assert (verdict.top.label if verdict.top else None) == top


def test_presets_order_kids_strictest():
    for label in ("toxicity", "obscene", "insult", "sexual_explicit"):
        kids = PRESETS["kids"].thresholds("output", label).block
        pg13 = PRESETS["pg13"].thresholds("output", label).block
        adult = PRESETS["adult"].thresholds("output", label).block
        assert kids < pg13 <= adult


def test_adult_only_in_age_restricted_channels():
    assert policy_for("adult", age_restricted=True).name == "adult"
    fallback = policy_for("adult", age_restricted=False)
    assert fallback.name == "pg13" and "age-restricted" in fallback.notes[0]
    explicit = [Evidence("sexual_explicit", 0.85, "detoxify")]
    assert decide(explicit, policy_for("adult", age_restricted=True), "output").action == "allow"
    assert decide(explicit, fallback, "output").action == "block"


def test_overrides_per_label_and_direction():
    policy = policy_for("pg13", {"spam": [0.1, 0.2], "pii": {"prompt": [0.95, 0.99]}})
    assert policy.thresholds("output", "spam") == Thresholds(0.1, 0.2)
    assert policy.thresholds("prompt", "pii") == Thresholds(0.95, 0.99)
    assert policy.thresholds("output", "pii") == PG13.thresholds("output", "pii")
    with pytest.raises(ValueError, match="unknown label"):
        policy_for("pg13", {"nonsense": [0.1, 0.2]})
    with pytest.raises(ValueError, match="thresholds need"):
        policy_for("pg13", {"spam": [0.9, 0.1]})
    with pytest.raises(ValueError, match="unknown policy preset"):
        policy_for("wild-west")


def test_shadow_mode_logs_but_never_enforces():
    verdict = decide([Evidence("threat", 0.99, "rules")], policy_for(shadow=True), "prompt")
    assert verdict.action == "allow" and verdict.shadow_action == "block"
    assert verdict.reasons[0].label == "threat"


def test_counterfactual_replaces_learned_scores_only():
    evidence = [Evidence("toxicity", 0.98, "lexical"), Evidence("identity_attack", 0.95, "rules")]
    swapped = {"toxicity": 0.05, "identity_attack": 0.0}
    verdict = decide(evidence, PG13, "prompt", counterfactual=swapped)
    assert verdict.action == "block" and verdict.top.label == "identity_attack"  # rule stands
    assert verdict.scores["toxicity"] == 0.05
    only_learned = decide(evidence[:1], PG13, "prompt", counterfactual=swapped)
    assert only_learned.action == "allow" and "counterfactual" in only_learned.notes[0]
    # A term that lowers a learned score is corrected too: it cannot excuse the content.
    excused = decide([Evidence("insult", 0.5, "lexical")], PG13, "prompt", {"insult": 0.99})
    assert excused.action == "block"


def test_a_failed_scorer_holds_outputs_not_prompts():
    held = decide([], PG13, "output", failed=("detoxify",))
    assert held.action == "flag" and held.top.label == "scorer_failure"
    assert decide([], PG13, "prompt", failed=("detoxify",)).action == "allow"


def test_verdict_and_policy_survive_json():
    verdict = decide([Evidence("insult", 0.99, "lexical", (3, 9))], PG13, "prompt")
    again = Verdict.from_json(json.loads(json.dumps(verdict.to_json())))
    assert again == verdict
    assert policy_from_json(json.loads(json.dumps(PG13.to_json()))) == PG13
    assert policy_from_json("kids") == PRESETS["kids"] and policy_from_json(None) == PG13


def test_explanations_are_plain_words_with_the_span():
    text = "well, you idiot, hello"
    verdict = decide([Evidence("insult", 0.99, "lexical", (6, 15))], PG13, "prompt")
    assert verdict.explain(text) == (
        "This was refused because it looks like an insult aimed at someone (99% sure), "
        'in "you idiot".'
    )
    assert decide([], PG13, "prompt").explain(text) == "Nothing of concern was found."


@pytest.mark.parametrize(
    "data", [["pg13"], 3, {"prompt": [1, 2]}, {"prompt": {"spam": 5}}, {"output": {"spam": [2, 1]}}]
)
def test_malformed_policy_json_is_a_value_error(data):
    with pytest.raises(ValueError):
        policy_from_json(data)
