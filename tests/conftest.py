"""Shared fixtures: an offline environment, a fresh GENBOT_HOME, and a way to run `genbot`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Nothing in the default suite may reach a model hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent


def clean_env(**extra: str) -> dict[str, str]:
    """Return os.environ without genbot/Discord settings, plus `extra`."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("GENBOT_") and k != "DISCORD_TOKEN"
    }
    env.update(extra)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """Return an empty GENBOT_HOME folder."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def genbot(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return a function that runs the real `genbot` CLI in a subprocess inside tmp_path."""

    def run(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            cwd=kwargs.pop("cwd", tmp_path),
            env=clean_env(**(env or {})),
            capture_output=True,
            text=kwargs.pop("text", True),
            timeout=kwargs.pop("timeout", 120),
            **kwargs,
        )

    return run
