"""Identity terms: for the counterfactual check, the targeted-hate rules and the bias audit.

Written by hand for genbot (gender, sexual orientation, religion, ethnicity or nationality, age,
disability). `neutralise` swaps each term for a neutral word of the same kind, so a scorer that
reacts only to the identity term (and not to what is said about it) can be caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    """An identity term, its group, and whether it is used as an adjective or a noun."""

    text: str
    group: str
    kind: str  # "adj" or "noun"
    plural: str | None = None


def _adjs(group: str, words: str) -> list[Term]:
    return [Term(w.replace("_", " "), group, "adj") for w in words.split()]


TERMS: tuple[Term, ...] = tuple(
    _adjs("gender", "female male nonbinary transgender trans cisgender")
    + [
        Term("woman", "gender", "noun", "women"),
        Term("man", "gender", "noun", "men"),
        Term("girl", "gender", "noun", "girls"),
        Term("boy", "gender", "noun", "boys"),
    ]
    + _adjs(
        "sexual orientation",
        "gay lesbian bisexual straight heterosexual homosexual queer asexual lgbt lgbtq",
    )
    + _adjs(
        "religion",
        "muslim christian jewish hindu buddhist sikh atheist catholic protestant mormon",
    )
    + _adjs(
        "ethnicity or nationality",
        "black white asian latino latina hispanic african african_american arab indian "
        "chinese mexican japanese european american middle_eastern native_american indigenous",
    )
    + [Term("immigrant", "ethnicity or nationality", "noun", "immigrants")]
    + _adjs("age", "old elderly young teenage millennial")
    + _adjs("disability", "blind deaf disabled autistic paralyzed mentally_ill")
)

NEUTRAL = {"adj": "tall", "noun": "person", "plural": "people"}
GROUPS = tuple(dict.fromkeys(t.group for t in TERMS))


def _forms() -> dict[str, str]:
    forms: dict[str, str] = {}
    for term in TERMS:
        forms[term.text] = NEUTRAL[term.kind]
        if term.plural:
            forms[term.plural] = NEUTRAL["plural"]
        elif term.kind == "adj" and term.group in ("religion", "ethnicity or nationality"):
            forms[term.text + "s"] = NEUTRAL["plural"]  # "muslims", "arabs" used as nouns
    return forms


FORMS = _forms()
# Longest first, so "african american" wins over "african" and "american".
PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(f) for f in sorted(FORMS, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)


def term_of(form: str) -> Term | None:
    """Return the identity term a written form belongs to ("women" -> woman, "muslims" ->
    muslim), or None for a word that is not one."""
    form = form.lower()
    for term in TERMS:
        if form in (term.text, term.plural, term.text + "s"):
            return term
    return None


def mentions(text: str) -> list[str]:
    """Return the identity terms (as written, lower-cased) that `text` mentions."""
    return [m.group(1).lower() for m in PATTERN.finditer(text)]


def neutralise(text: str) -> str:
    """Return `text` with every identity term swapped for a neutral word of the same kind."""
    return PATTERN.sub(lambda m: FORMS[m.group(1).lower()], text)


def article(word: str) -> str:
    """Return "a" or "an" for `word` by its sound, near enough for the identity terms
    ("an asian", "a european", "a unitarian")."""
    lower = word.lower()
    if lower.startswith(("eu", "uni", "use", "one")):
        return "a"
    return "an" if lower[:1] in tuple("aeiou") else "a"
