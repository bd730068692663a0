"""A fast lexical first pass: alt-profanity-check's trained linear classifier (offline).

It gives one probability that a text is offensive; genbot reads it as `toxicity`, `obscene` and
`insult` alike (the classifier cannot tell them apart), and the policy's thresholds do the rest.
It judges short texts best, so the screen slides a window of `window_words` over long ones.

The model is a CalibratedClassifierCV over five LinearSVCs. Its own `predict_proba` spends ~10 ms
per call on validation and dispatch; `_probabilities` computes the same numbers (a test checks
equality) with two numpy operations per fold, ~10x faster for one short text.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

import numpy as np

LABELS = ("toxicity", "obscene", "insult")


def _linear_folds(model: Any) -> list[tuple[Any, float, float, float]] | None:
    """Return (coef, intercept, a, b) per calibrated fold, or None for another model shape."""
    folds = []
    for calibrated in getattr(model, "calibrated_classifiers_", []):
        estimator, calibrators = calibrated.estimator, calibrated.calibrators
        if getattr(calibrated, "method", None) != "sigmoid" or len(calibrators) != 1:
            return None
        if not hasattr(estimator, "coef_") or estimator.coef_.shape[0] != 1:
            return None
        cal = calibrators[0]
        folds.append((estimator.coef_[0], float(estimator.intercept_[0]), cal.a_, cal.b_))
    return folds or None


class LexicalScorer:
    """Scores texts with alt-profanity-check's model, loaded on first use."""

    name = "lexical"
    window_words = 12

    def __init__(self) -> None:
        self._vectorizer: Any = None
        self._model: Any = None
        self._folds: list | None = None
        self.version = f"alt-profanity-check-{metadata.version('alt-profanity-check')}"

    def load(self) -> None:
        """Import the classifier (it unpickles its model on import)."""
        if self._model is None:
            from profanity_check import profanity_check

            self._vectorizer, self._model = profanity_check.vectorizer, profanity_check.model
            self._folds = _linear_folds(self._model)

    def lexicon(self) -> dict[str, float]:
        """Return word -> cost for segmenting spaced-out letters back into words: the
        classifier's vocabulary at its idf (common words are cheap), English stop words at 1."""
        self.load()
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        idf = self._vectorizer.idf_
        costs = {word: float(idf[k]) for word, k in self._vectorizer.vocabulary_.items()}
        costs.update(dict.fromkeys(ENGLISH_STOP_WORDS | {"a", "i"}, 1.0))
        return costs

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        features = self._vectorizer.transform(texts)
        if self._folds is None:
            return self._model.predict_proba(features)[:, 1]
        total = np.zeros(len(texts))
        for coef, intercept, a, b in self._folds:
            decision = features @ coef + intercept
            total += 1.0 / (1.0 + np.exp(a * decision + b))
        return total / len(self._folds)

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Return {toxicity, obscene, insult} = P(offensive) per text."""
        self.load()
        if not texts:
            return []
        return [dict.fromkeys(LABELS, float(p)) for p in self._probabilities(texts)]
