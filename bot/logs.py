"""Logging set-up for the entry points, with every known secret redacted from every line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

REDACTED = "***"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Return `text` with every secret value replaced by ***."""
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret value by *** in the finished line."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self._secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """Return the formatted record (traceback included) with secrets replaced."""
        return redact(super().format(record), self._secrets)


def configure(level: str, secrets: Iterable[str] = ()) -> None:
    """Send log records at `level` and above to stderr, redacting `secrets`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
