"""Fixtures of the bot tests: the offline moderation stack, loopback services closed after."""

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
    yield
    await close_clients()
