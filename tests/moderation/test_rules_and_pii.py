"""Rules (keywords, wildcards, allow-lists, regexes) and the PII detectors."""

import pytest

from moderation.scorers.pii import PiiDetector, luhn_ok, redact
from moderation.scorers.rules import Rule, RuleError, RuleSet, default_rules, keyword_regex


@pytest.mark.parametrize(
    ("keyword", "hits", "misses"),
    [
        ("cat", ["a cat", "CAT!"], ["category", "bobcat"]),
        ("cat*", ["category"], ["bobcat"]),
        ("*cat", ["bobcat"], ["category"]),
        ("*cat*", ["bobcats", "category"], ["dog"]),
        ("bad word", ["a bad   word"], ["badword"]),
    ],
)
def test_keyword_wildcards(keyword, hits, misses):
    rules = RuleSet([Rule("spam", keyword)])
    assert all(rules.score([t])[0] == {"spam": 1.0} for t in hits)
    assert all(rules.score([t])[0] == {} for t in misses)


def test_allow_list_exempts_covered_matches():
    rules = default_rules().extended([Rule("obscene", "*cock*"), Rule("", "cocktail", "allow")])
    assert rules.score(["a cocktail please", "cockroach"]) == [{}, {"obscene": 1.0}]


def test_guild_rules_are_checked():
    with pytest.raises(RuleError, match="nested quantifiers"):
        default_rules().extended([Rule("spam", "(a+)+$", "regex")])
    with pytest.raises(RuleError, match="longer than"):
        default_rules().extended([Rule("spam", "x" * 301)])
    with pytest.raises(RuleError, match="invalid regex"):
        default_rules().extended([Rule("spam", "(unclosed", "regex")])
    with pytest.raises(RuleError, match="no letters"):
        keyword_regex("**")


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I want to kill myself", "self_harm"),
        ("kys", "self_harm"),
        ("I'm going to stab you", "threat"),
        ("I hate gay people", "identity_attack"),
        ("Muslims are vermin", "identity_attack"),
        ("immigrants should be deported", "identity_attack"),
        ("nude pics of a 12 year old", "sexual_minors"),
        ("@everyone free nitro here", "spam"),
        ("buy " * 10, "spam"),
    ],
)
def test_default_rules_catch(text, label):
    assert label in default_rules().score([text])[0]


@pytest.mark.parametrize(
    "text",
    [
        "I am a gay Muslim woman",
        "gay people are wonderful",
        "my trans friend hates spiders",
        "ban all the old accounts",
        "this movie was killer",
        "the children played in the park",
        "I drove 100 kms today",
    ],
)
def test_default_rules_leave_alone(text):
    assert default_rules().score([text])[0] == {}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail jo.bloggs+x@example.co.uk", "email"),
        ("call +44 20 7946 0958", "phone"),
        ("call 555-123-4567", "phone"),
        ("card 4111 1111 1111 1111", "card"),
        ("host 203.0.113.9", "ipv4"),
        ("host 2001:db8::8a2e:370:7334", "ipv6"),
        ("join discord.gg/abc123", "invite"),
        ("MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.Gabcde.abcdefghijklmnopqrstuvwxyz0123", "discord_token"),
    ],
)
def test_pii_is_found_and_redacted(text, kind):
    hits = PiiDetector().find(text)
    assert [h.source for h in hits] == [f"pii:{kind}"]
    assert f"[{kind}]" in redact(text)


@pytest.mark.parametrize(
    "text", ["in 2024 I had 3 cats", "the time is 12:30:45", "999.999.1.1", "std::vector", ""]
)
def test_pii_leaves_alone(text):
    assert PiiDetector().find(text) == [] and redact(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert not luhn_ok("1234")
