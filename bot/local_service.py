"""The embedded default: when no GENBOT_SERVICE_URL is set, `genbot run` starts `genbot serve`
as a child process on a free loopback port and stops it (by its PID) on exit."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)


def free_port() -> int:
    """Return a loopback port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalService:
    """A `genbot serve` child process."""

    def __init__(self, process: asyncio.subprocess.Process, url: str) -> None:
        self.process, self.url = process, url

    @classmethod
    async def start(cls, serve_args: Sequence[str] = ()) -> LocalService:
        """Start the child; return at once (the bot's client waits for /readyz itself)."""
        port = free_port()
        args = [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"]
        args += ["--port", str(port), *serve_args]
        env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN",)}
        process = await asyncio.create_subprocess_exec(*args, env=env)
        log.info("started local generation service (pid %s) on port %s", process.pid, port)
        return cls(process, f"http://127.0.0.1:{port}")

    async def stop(self, grace_s: float = 10.0) -> int | None:
        """Stop the child (SIGTERM, then SIGKILL after `grace_s`); return its exit status."""
        if self.process.returncode is not None:
            return self.process.returncode
        self.process.terminate()
        try:
            return await asyncio.wait_for(self.process.wait(), grace_s)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()
