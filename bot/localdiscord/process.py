"""BotProcess: a bot in a subprocess through `bot.localdiscord.launch`, aimed at a LocalDiscord."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from .server import LocalDiscord

REPO = Path(__file__).resolve().parents[2]


class BotProcess:
    """Starts `python -m bot.localdiscord.launch TARGET ARGS...`; output goes to `log_path`."""

    def __init__(
        self,
        fake: LocalDiscord,
        target: str,
        args: list[str] | None = None,
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path = REPO,
        new_session: bool = False,
    ) -> None:
        self.fake = fake
        # A new session keeps a terminal's Ctrl-C away from the bot: its owner stops it.
        self.cwd, self.new_session = cwd, new_session
        self.command = [sys.executable, "-m", "bot.localdiscord.launch", target, *(args or [])]
        self.log_path = log_path
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0

    def _env(self) -> dict[str, str]:
        """Return os.environ without Discord/genbot settings, plus the fake's and `env`."""
        base = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GENBOT_") and k != "DISCORD_TOKEN"
        }
        return {**base, **self.fake.launch_env(), **self.extra_env}

    def start(self) -> None:
        """Launch the process (its stdout and stderr go to the log file)."""
        self.started_at = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.new_session,
            )

    @property
    def returncode(self) -> int | None:
        """Return the exit status, or None while running."""
        return None if self.proc is None else self.proc.poll()

    def log_text(self) -> str:
        """Return everything the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Wait until the bot is connected on every shard; fail early, with its log, if it died."""
        wanted = set(range(self.fake.world.settings.shard_count))

        def done() -> bool:
            ready = wanted <= self.fake.gateway.ready_shards(self.started_at)
            return ready or self.returncode is not None

        try:
            await self.fake.wait_for(done, timeout)
        except TimeoutError:
            raise TimeoutError(f"bot not ready in {timeout}s; log:\n{self.log_text()}") from None
        if self.returncode is not None:
            raise RuntimeError(f"bot exited with {self.returncode}; log:\n{self.log_text()}")

    async def wait_exit(self, timeout: float = 15.0) -> int:
        """Return the exit status once the process ends by itself."""
        await self.fake.wait_for(lambda: self.returncode is not None, timeout)
        assert self.returncode is not None
        return self.returncode

    async def stop(self, grace_s: float = 5.0) -> int | None:
        """Terminate the process (kill it after `grace_s`) and return its exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.returncode
        self.proc.terminate()
        deadline = time.monotonic() + grace_s
        while self.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    async def __aenter__(self) -> BotProcess:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
