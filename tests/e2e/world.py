"""The world of the bot's end-to-end tests: a Discord-compatible API on loopback, a tiny-model
generation service behind a gate proxy, and the real `genbot run` in a subprocess."""

from __future__ import annotations

import io
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.localdiscord import (
    MEMBER_PERMISSIONS,
    BotProcess,
    Channel,
    Guild,
    InteractionRecord,
    LocalDiscord,
    MessageRecord,
    User,
)
from tests.e2e.gate_proxy import GateProxy
from tests.e2e.processes import Proc

MODERATE_MEMBERS = 1 << 40
MODERATOR = MEMBER_PERMISSIONS | MODERATE_MEMBERS
JOB = re.compile(r"\bjob (\d+)\b")


def png(color: tuple[int, int, int] = (200, 40, 40), size: int = 64) -> bytes:
    """Return a small real PNG."""
    out = io.BytesIO()
    Image.new("RGB", (size, size), color).save(out, format="PNG")
    return out.getvalue()


def noisy_png(seed: int, size: int = 64) -> bytes:
    """Return a PNG of random pixels (flat colours all share one perceptual hash)."""
    import numpy as np

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@dataclass
class World:
    """Everything one e2e module runs against."""

    fake: LocalDiscord
    guild: Guild
    proxy: GateProxy
    service: Proc
    home: Path
    logs: Path
    bot: BotProcess | None = None
    restarts: int = 0
    users: list[User] = field(default_factory=list)

    @property
    def general(self) -> int:
        return self.guild.text_channels[0].id

    @property
    def mods(self) -> int:
        return self.guild.text_channels[1].id

    def user(self, permissions: int = MEMBER_PERMISSIONS) -> User:
        """Return a new member (fresh quotas and cooldowns)."""
        user = User(name=f"user{len(self.users)}", permissions=permissions)
        self.users.append(user)
        return user

    async def start_bot(self) -> BotProcess:
        """Start `genbot run` and wait until it is connected."""
        env = {"GENBOT_HOME": str(self.home), "GENBOT_SERVICE_URL": self.proxy.url}
        log = self.logs / f"bot-{self.restarts}.log"
        self.restarts += 1
        self.bot = BotProcess(self.fake, "bot.cli:main", ["run"], log_path=log, env=env)
        self.bot.start()
        await self.bot.wait_ready(timeout=60)
        return self.bot

    def bot_logs(self) -> str:
        """Return the logs of every bot process of this world."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("bot-*.log")))

    async def wait(self, predicate: Any, timeout: float = 30.0) -> Any:
        """Wait for `predicate()`; on timeout fail with the end of the bot's log."""
        try:
            return await self.fake.wait_for(predicate, timeout)
        except TimeoutError:
            pytest.fail(f"timed out; bot log:\n{self.bot_logs()[-6000:]}")

    async def run(self, name: str, options: dict | None = None, **kwargs: Any) -> InteractionRecord:
        """Invoke a command in #general and check that it was acknowledged within 3 s."""
        kwargs.setdefault("channel_id", self.general)
        kwargs.setdefault("guild_id", self.guild.id)
        inter = await self.fake.invoke(name, options or {}, **kwargs)
        await self.wait(lambda: inter.acked_at is not None or inter.errors, 10)
        assert inter.acked_after_s is not None and inter.acked_after_s < 3.0, inter.errors
        return inter

    async def result(self, inter: InteractionRecord, timeout: float = 60.0) -> MessageRecord:
        """Wait until the interaction's original reply carries a job's result; return it."""

        def done() -> MessageRecord | str | None:
            m = inter.original
            if m and not m.deleted and JOB.search(m.content) and m.components:
                return m
            if m and "pending review" in m.content:
                return f"held for review instead of posted: {m.content}"
            private = [f.content for f in inter.followups if f.ephemeral and f.content]
            return f"private answer instead of a result: {private[-1]}" if private else None

        outcome = await self.wait(done, timeout)
        if isinstance(outcome, str):
            pytest.fail(outcome)
        return outcome

    async def private(self, inter: InteractionRecord, timeout: float = 30.0) -> str:
        """Wait for the ephemeral answer of an interaction; return its text."""

        def found() -> str | None:
            for m in [*inter.followups, inter.original]:
                if m is not None and m.ephemeral and not m.loading and m.content:
                    return m.content
            return None

        return await self.wait(found, timeout)

    def job_rows(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Read the bot's ledger directly (the test owns the file)."""
        with sqlite3.connect(self.home / "genbot.db", timeout=10) as db:
            return db.execute(sql, args).fetchall()

    def channel_posts(self, channel: int, job_id: int) -> list[MessageRecord]:
        """Return the live result messages of a job in a channel (they carry its buttons)."""
        return [
            m
            for m in self.fake.messages(channel)
            if not m.deleted and f"gen:report:{job_id}" in m.custom_ids()
        ]


def job_id(message: MessageRecord) -> int:
    """Return the job id a result message names."""
    return int(JOB.search(message.content).group(1))


def new_guild() -> Guild:
    """Return the test guild: #general and #mods."""
    return Guild(name="genbot e2e", channels=[Channel(name="general"), Channel(name="mods")])
