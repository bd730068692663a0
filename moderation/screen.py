"""`Screener.screen(texts, direction, policy)`: normalise → score → decide, one verdict per text.

The only entry point the service and the CLI call for text. All texts of a call, all their views
and all their windows go to each learned scorer as one batch (their cost is per call, not per
text). Rules and detectors run per view; every hit keeps a span in the original text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from moderation import identity, normalize
from moderation.policy import Evidence, Policy, decide
from moderation.scorers import Finder, Scorer
from moderation.scorers.images import ImageChecker
from moderation.scorers.pii import PiiDetector
from moderation.scorers.rules import Rule, RuleSet, default_rules
from moderation.verdict import Verdict

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

# Longer texts are screened up to here and held for a person: nothing unscreened is posted.
MAX_CHARS = 100_000
_WORD = re.compile(r"\S+")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*|[.!?\n]+")


def word_windows(text: str, size: int) -> list[tuple[int, int]]:
    """Return spans covering `text`: each sentence, and windows of `size` words half a window
    apart within sentences longer than that. A short toxic sentence at the end of a long text
    is judged on its own instead of being diluted by the rest."""
    spans = []
    for sentence in _SENTENCE.finditer(text):
        words = [(sentence.start() + a, sentence.start() + b)
                 for a, b in (m.span() for m in _WORD.finditer(sentence.group()))]  # fmt: skip
        if not words:
            continue
        if len(words) <= size:
            spans.append((words[0][0], words[-1][1]))
            continue
        step = max(1, size // 2)
        starts = list(range(0, len(words) - size, step)) + [len(words) - size]
        spans += [(words[s][0], words[s + size - 1][1]) for s in starts]
    return spans


@dataclass
class _Item:
    """What is known about one input text while it is screened."""

    text: str
    views: list[normalize.View]
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Screener:
    """Holds the scorers (learned ones and rule-like finders) and screens batches of texts."""

    def __init__(
        self,
        learned: Sequence[Scorer] = (),
        rules: RuleSet | None = None,
        pii: Finder | None = None,
        images: ImageChecker | None = None,
    ) -> None:
        self.learned = list(learned)
        self.images = images if images is not None else ImageChecker()
        self.rules = rules if rules is not None else default_rules()
        self.pii = pii if pii is not None else PiiDetector()
        self.failed_to_load: list[str] = []
        self._compiled: dict[tuple[Rule, ...], RuleSet] = {}
        self.lexicon: dict[str, float] = {}

    @property
    def model_versions(self) -> dict[str, str]:
        """Return the name → version of every scorer."""
        scorers = [*self.learned, self.rules, self.pii, self.images]
        return {s.name: s.version for s in scorers}

    def load(self) -> list[str]:
        """Load every scorer; return the names of those that failed (they are dropped)."""
        failed = []
        for scorer in [*self.learned, self.images]:
            try:
                scorer.load()
            except Exception:
                log.exception("scorer %s failed to load; screening fails closed", scorer.name)
                failed.append(scorer.name)
                continue
            if hasattr(scorer, "lexicon"):
                self.lexicon.update(scorer.lexicon())
        self.failed_to_load = failed
        return failed

    def screen(
        self,
        texts: Sequence[str],
        direction: str,
        policy: Policy,
        guild_rules: Iterable[Rule] = (),
        extra: Sequence[Sequence[Evidence]] = (),
    ) -> list[Verdict]:
        """Return one verdict per text, in order. `extra`: evidence found outside the scorers,
        per text (the memorisation guard's, for outputs of a model with a private index)."""
        rules = self._rules_for(tuple(guild_rules))
        items = [self._prepare(t) for t in texts]
        for item, found in zip(items, extra or [()] * len(items), strict=True):
            self._find(item, rules)
            item.evidence.extend(found)
        learned, failed = self._score_learned([item.views for item in items])
        for item, best in zip(items, learned, strict=True):
            item.evidence.extend(best.values())
        counterfactuals = self._counterfactuals(items, policy)
        failed = tuple(dict.fromkeys(self.failed_to_load + failed))
        return [
            decide(
                item.evidence,
                policy,
                direction,
                counterfactual=counterfactuals.get(k),
                failed=failed,
                model_versions=self.model_versions,
                notes=tuple(item.notes),
            )
            for k, item in enumerate(items)
        ]

    def screen_images(
        self,
        images: Sequence[Image.Image],
        direction: str,
        policy: Policy,
        denylist: Sequence[str] = (),
        extra: Sequence[Sequence[Evidence]] = (),
    ) -> list[Verdict]:
        """Return one verdict per (already safely decoded) image, in order; `extra` as for
        `screen`."""
        failed = [n for n in self.failed_to_load if n == self.images.name]
        scored: list[dict[str, float]] = [{} for _ in images]
        if not failed:
            try:
                scored = self.images.score(list(images), denylist)
            except Exception:
                log.exception("image checks failed on a batch of %d", len(images))
                failed = [self.images.name]
        return [
            decide(
                [Evidence(label, value, self.images.name) for label, value in scores.items()]
                + list(found),
                policy,
                direction,
                failed=tuple(failed),
                model_versions=self.model_versions,
            )
            for scores, found in zip(scored, extra or [()] * len(scored), strict=True)
        ]

    def _rules_for(self, guild_rules: tuple[Rule, ...]) -> RuleSet:
        # Compiling a guild's rules costs more than matching them: keep the last few compiled.
        if not guild_rules:
            return self.rules
        if guild_rules not in self._compiled:
            if len(self._compiled) >= 64:
                self._compiled.pop(next(iter(self._compiled)))
            self._compiled[guild_rules] = self.rules.extended(guild_rules)
        return self._compiled[guild_rules]

    def _prepare(self, text: object) -> _Item:
        if not isinstance(text, str):
            text = "" if text is None else str(text)
        item = _Item(text[:MAX_CHARS], normalize.views(text[:MAX_CHARS], self.lexicon))
        if len(text) > MAX_CHARS:
            item.notes.append(f"text of {len(text)} characters screened up to {MAX_CHARS}")
            item.evidence.append(Evidence("spam", 0.7, "length", (MAX_CHARS - 1, MAX_CHARS)))
        return item

    def _find(self, item: _Item, rules: RuleSet) -> None:
        for view in item.views:
            for hit in rules.find(view.text):
                span = view.original_span(hit.start, hit.end)
                item.evidence.append(Evidence(hit.label, hit.score, hit.source, span))
        first = item.views[0]
        for hit in self.pii.find(first.text):
            span = first.original_span(hit.start, hit.end)
            item.evidence.append(Evidence(hit.label, hit.score, hit.source, span))

    def _score_learned(
        self, view_lists: list[list[normalize.View]]
    ) -> tuple[list[dict[str, Evidence]], list[str]]:
        """Score every window of every view with each learned scorer, one batch per scorer.

        Return per view list the best evidence per label, and the names of failed scorers."""
        best: list[dict[str, Evidence]] = [{} for _ in view_lists]
        failed = []
        for scorer in self.learned:
            if scorer.name in self.failed_to_load:
                continue
            jobs = []
            for k, views in enumerate(view_lists):
                for view in views:
                    size = scorer.window_words
                    spans = word_windows(view.text, size) if size else [(0, len(view.text))]
                    jobs += [(k, view, span) for span in spans]
            unique = list(dict.fromkeys(v.text[a:b] for _, v, (a, b) in jobs))
            try:
                scored = dict(zip(unique, scorer.score(unique), strict=True))
            except Exception:
                log.exception("scorer %s failed on a batch of %d", scorer.name, len(unique))
                failed.append(scorer.name)
                continue
            for k, view, (a, b) in jobs:
                for label, value in scored[view.text[a:b]].items():
                    if label not in best[k] or value > best[k][label].score:
                        best[k][label] = Evidence(
                            label, value, scorer.name, view.original_span(a, b)
                        )
        return best, failed

    def _counterfactuals(self, items: list[_Item], policy: Policy) -> dict[int, dict[str, float]]:
        """Rescore, with identity terms neutralised, the items that mention one; return item
        index -> {label: score}. Done for every mention, not only high scores, so that a term
        that lowers a learned score is corrected as much as one that raises it."""
        if not policy.counterfactual or not self.learned:
            return {}
        wanted = [
            k for k, item in enumerate(items) if any(identity.mentions(v.text) for v in item.views)
        ]
        swapped = [
            [normalize.View(v.name, identity.neutralise(v.text), ()) for v in items[k].views]
            for k in wanted
        ]
        scored, _ = self._score_learned(swapped)
        pairs = zip(wanted, scored, strict=True)
        return {k: {label: ev.score for label, ev in best.items()} for k, best in pairs}
