"""Fixtures of the bot tests: the service tests' offline screener and loopback-client cleanup."""

from tests.service.conftest import _close_clients, screener  # noqa: F401
