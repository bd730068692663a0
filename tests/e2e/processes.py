"""The generation service process an end-to-end test starts (`genbot serve --tiny`), ended by
the PID we started, its output kept in a log file. The bot runs through
`bot.localdiscord.BotProcess`."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "GENBOT_DETOXIFY": "off",
    "GENBOT_LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


class Proc:
    """One child process with its log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.args, self.env, self.log = name, args, env, log
        self.popen: subprocess.Popen | None = None

    def start(self) -> Proc:
        """Start the process (appending to its log)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENBOT_", "DISCORD_"))}
        with open(self.log, "a") as out:
            self.popen = subprocess.Popen(
                self.args,
                env={**env, **BASE_ENV, **self.env},
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL the process: no cleanup of any kind runs."""
        if self.alive:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self, grace_s: float = 15.0) -> int | None:
        """SIGTERM, then SIGKILL after `grace_s`; return the exit status."""
        if not self.alive:
            return self.popen.returncode if self.popen else None
        os.kill(self.popen.pid, signal.SIGTERM)
        try:
            return self.popen.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.kill9()
            return self.popen.returncode

    def text(self) -> str:
        """Return everything the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def service_proc(home: Path, port: int, log: Path) -> Proc:
    """Return (not started) a tiny-model generation service on 127.0.0.1:`port`."""
    args = [sys.executable, "-m", "bot.cli", "serve", "--tiny", "--port", str(port)]
    return Proc("service", args, {"GENBOT_HOME": str(home)}, log)


async def wait_http(url: str, timeout: float = 60.0) -> None:
    """Wait until GET `url` answers 200."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")
