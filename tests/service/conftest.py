"""Shared fixtures of the service tests."""

import pytest

from moderation.scorers.lexical import LexicalScorer
from moderation.screen import Screener
from tests.service.helpers import close_clients


@pytest.fixture(scope="session")
def screener():
    """The offline moderation stack, loaded once."""
    s = Screener([LexicalScorer()])
    s.load()
    return s


@pytest.fixture(autouse=True)
async def _close_clients():
    """Close the loopback clients a test started, even when it failed."""
    yield
    await close_clients()
