"""Shared fixtures of the service tests."""

import pytest

from moderation.scorers.lexical import LexicalScorer
from moderation.screen import Screener


@pytest.fixture(scope="session")
def screener():
    """The offline moderation stack, loaded once."""
    s = Screener([LexicalScorer()])
    s.load()
    return s
