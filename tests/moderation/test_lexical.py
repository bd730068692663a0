"""The lexical scorer computes exactly what alt-profanity-check's own predict_proba does."""

import numpy as np

from moderation.scorers.lexical import LexicalScorer
from tests.moderation.corpus import BENIGN, TOXIC_SEEDS


def test_fast_probabilities_equal_the_library():
    scorer = LexicalScorer()
    scorer.load()
    assert scorer._folds is not None  # the fast path is in use
    texts = TOXIC_SEEDS + BENIGN + ["", "x" * 5000]
    ours = scorer._probabilities(texts)
    theirs = scorer._model.predict_proba(scorer._vectorizer.transform(texts))[:, 1]
    assert np.allclose(ours, theirs, atol=1e-12)


def test_lexicon_prices_common_words_below_rare_ones():
    lexicon = LexicalScorer().lexicon()
    assert lexicon["the"] == 1.0 and lexicon["worthless"] > 1.0
