"""AutoMod-like rules: keywords with `*` wildcards, whole-word matching, allow-lists, regexes.

Default lists cover the labels Detoxify lacks (self-harm, sexual content involving minors, spam)
plus direct threats and targeted attacks on identity groups; guilds add their own through the
store. Rules run on every normalised view, so "k y s" and "kys" meet the same rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from moderation.identity import FORMS, TERMS
from moderation.scorers import Match

MAX_PATTERN_LENGTH = 300
# A quantified group that itself contains a quantifier, like (a+)+ or (\w*)*: the classic shape
# of catastrophic backtracking. Guild regexes of that shape are refused.
_NESTED_QUANTIFIER = re.compile(r"\([^)]*[+*}][^)]*\)\s*[+*{]")


class RuleError(ValueError):
    """A rule cannot be used; the message says why."""


@dataclass(frozen=True)
class Rule:
    """One rule. `kind` is keyword (with `*` wildcards), regex, or allow (an allowed keyword)."""

    label: str
    pattern: str
    kind: str = "keyword"
    score: float = 1.0


def keyword_regex(keyword: str) -> str:
    """Return the regex for an AutoMod keyword: `cat` whole word, `cat*` prefix, `*cat` suffix,
    `*cat*` anywhere; spaces match any run of spaces."""
    word = keyword.strip().lower()
    if not word.strip("*").strip():
        raise RuleError(f"keyword {keyword!r} has no letters")
    head = r"\w*" if word.startswith("*") else r"\b"
    tail = r"\w*" if word.endswith("*") else r"\b"
    core = re.escape(word.strip("*")).replace(r"\ ", r"\s+")
    return head + core + tail


def check_guild_rule(rule: Rule) -> re.Pattern:
    """Return the compiled pattern of a rule written by a guild; raise RuleError if unsafe."""
    if len(rule.pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"pattern longer than {MAX_PATTERN_LENGTH} characters")
    if rule.kind == "regex" and _NESTED_QUANTIFIER.search(rule.pattern):
        raise RuleError("nested quantifiers like (a+)+ can hang the matcher; simplify it")
    if not 0.0 <= rule.score <= 1.0:
        raise RuleError("a rule's score is between 0 and 1")
    return compile_rule(rule)


def compile_rule(rule: Rule) -> re.Pattern:
    """Return the compiled pattern of `rule`; raise RuleError for an unusable one."""
    if rule.kind == "regex":
        source = rule.pattern
    elif rule.kind in ("keyword", "allow"):
        source = keyword_regex(rule.pattern)
    else:
        raise RuleError(f"unknown rule kind {rule.kind!r}")
    try:
        return re.compile(source, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"invalid regex: {exc}") from None


class RuleSet:
    """A set of rules and allowed keywords, matched against a text."""

    name = "rules"
    window_words = None

    def __init__(self, rules: Iterable[Rule]) -> None:
        rules = list(rules)
        self.source = rules
        self.rules = [(r, compile_rule(r)) for r in rules if r.kind != "allow"]
        self.allowed = [compile_rule(r) for r in rules if r.kind == "allow"]
        self.version = f"rules-{len(rules)}"

    def load(self) -> None:
        """Nothing to load: rules are compiled at construction."""

    def extended(self, extra: Iterable[Rule]) -> RuleSet:
        """Return a new RuleSet with `extra` rules (a guild's own, checked) added to these."""
        extra = list(extra)
        for rule in extra:
            check_guild_rule(rule)
        return RuleSet(self.source + extra)

    def find(self, text: str) -> list[Match]:
        """Return every rule hit in `text` that no allowed keyword covers."""
        allowed = [m.span() for p in self.allowed for m in p.finditer(text)]
        hits = []
        for rule, pattern in self.rules:
            for m in pattern.finditer(text):
                if any(a <= m.start() and m.end() <= b for a, b in allowed):
                    continue
                hits.append(Match(rule.label, rule.score, m.start(), m.end(), self.name))
        return hits

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Return per text the highest rule score per label."""
        out = []
        for text in texts:
            scores: dict[str, float] = {}
            for hit in self.find(text):
                scores[hit.label] = max(scores.get(hit.label, 0.0), hit.score)
            out.append(scores)
        return out


def _alternation(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + ")"


def _identity_target() -> str:
    adjectives = _alternation(t.text for t in TERMS if t.kind == "adj")
    group_nouns = r"(?:people|persons|folks|men|women|guys|kids|girls|boys|community)"
    plurals = _alternation(f for f in FORMS if FORMS[f] == "people")
    return rf"(?:{adjectives}\s+{group_nouns}|{plurals})"


_TARGET = _identity_target()
_HOSTILE_VERB = (
    r"(?:hate|despise|loathe|can'?t stand|kill|exterminate|deport|gas|wipe out|get rid of)"
)
_DEHUMANISING = (
    r"(?:disgusting|vermin|animals|subhuman|filth|filthy|trash|garbage|scum|evil|inferior|"
    r"worthless|parasites|rats|cockroaches|terrorists|criminals|rapists|stupid|dumb|idiots|"
    r"a disease|a plague|a cancer|not human|less than human)"
)
_SHOULD_SUFFER = (
    r"(?:die|be killed|be exterminated|be deported|be gassed|burn|be wiped out|be shot|"
    r"go back to where they came from|not exist|be banned)"
)
_MINOR = (
    r"(?:child|children|kid|kids|minor|minors|underage|under-age|preteen|pre-teen|toddler|"
    r"infant|loli|lolicon|shota|schoolgirl|schoolboy|young teen|(?:[1-9]|1[0-7])\s?"
    r"(?:yo|y/o|year old|years old|year-old))"
)
_SEXUAL = (
    r"(?:sex|sexy|sexual|sexualized|nude|nudes|naked|porn|porno|pornographic|nsfw|explicit|"
    r"erotic|lewd|hentai|fetish|seductive|lingerie|undressed|undressing|genitals|rape|molest|"
    r"molested|molesting)"
)


def _words(label: str, score: float, keywords: str) -> list[Rule]:
    return [Rule(label, k.strip(), "keyword", score) for k in keywords.split(",") if k.strip()]


DEFAULT_RULES: tuple[Rule, ...] = tuple(
    _words(
        "self_harm",
        0.95,
        "kill myself, killing myself, kill my self, end my life, end it all, want to die, "
        "wanna die, commit suicide, suicidal, cut myself, cutting myself, hurt myself, "
        "self harm, self-harm, slit my wrists, hang myself, take my own life, better off dead, "
        "no reason to live, kill yourself, kys, go die, hang yourself, slit your wrists, "
        "drink bleach",
    )
    + _words("self_harm", 0.5, "suicide, overdose")
    + _words("threat", 0.9, "kill yourself, kys, i know where you live, you're dead, ur dead")
    + [
        Rule(
            "threat",
            r"\b(?:i'?ll|i will|i'?m going to|im going to|gonna|going to|i'?m gonna|im gonna|"
            r"we will|we'?ll)\s+(?:kill|murder|stab|shoot|hurt|beat|strangle|rape|find|burn|"
            r"bomb|break)\s+(?:you|u|ya|your\s+\w+|him|her|them)\b",
            "regex",
            0.95,
        ),
        Rule("identity_attack", rf"\b{_HOSTILE_VERB}\s+(?:all\s+)?(?:the\s+)?{_TARGET}\b",
             "regex", 0.95),
        Rule("identity_attack",
             rf"\b{_TARGET}\s+(?:are|is)\s+(?:all\s+|just\s+|such\s+|so\s+)*{_DEHUMANISING}",
             "regex", 0.95),
        Rule("identity_attack",
             rf"\b{_TARGET}\s+(?:should|must|need to|deserve to|ought to)\s+(?:all\s+)?"
             rf"{_SHOULD_SUFFER}\b", "regex", 0.95),
        Rule("identity_attack", rf"\bno\s+{_TARGET}\s+(?:allowed|wanted)\b", "regex", 0.9),
        Rule("sexual_minors", rf"\b{_MINOR}\b(?:\W+\w+){{0,6}}?\W+{_SEXUAL}\b", "regex", 1.0),
        Rule("sexual_minors", rf"\b{_SEXUAL}\b(?:\W+\w+){{0,6}}?\W+{_MINOR}\b", "regex", 1.0),
        Rule("spam", r"@(?:everyone|here)\b", "regex", 0.9),
        Rule("spam", r"\bfree\s+(?:discord\s+)?nitro\b", "regex", 0.9),
        Rule("spam", r"\b(\w{2,})(?:\W+\1\b){7,}", "regex", 0.8),
        Rule("spam", r"(?:https?://\S+(?:\s+\S+){0,3}?\s+){4}https?://\S+", "regex", 0.7),
    ]
)  # fmt: skip


def default_rules() -> RuleSet:
    """Return the default rule set."""
    return RuleSet(DEFAULT_RULES)
