"""Fairness limits of a guild and the pure decisions over them: quotas, cooldowns, strikes.

Everything here is plain data in, plain data out, so the rules are table-tested without
Discord, SQLite or a clock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

DAY_S = 86_400.0
# Cooldown (seconds) a user sits out after N live strikes; past the table it stays at the last.
STRIKE_COOLDOWNS = (0.0, 0.0, 60.0, 300.0, 1800.0, 3600.0)


@dataclass(frozen=True)
class Limits:
    """A guild's fairness settings (all changeable with `/mod policy set`)."""

    max_active: int = 3  # unfinished jobs one user may have at once
    daily_user: int = 100  # jobs one user may start per 24 h
    daily_guild: int = 2000  # jobs the whole guild may start per 24 h
    cooldown_s: float = 2.0  # seconds between two commands of one user
    strike_decay_h: float = 24.0  # a strike stops counting after this many hours
    appeals_per_day: int = 3  # appeals one user may file per 24 h


# name -> (low, high): what `/mod policy set` accepts for each limit.
LIMIT_RANGES: dict[str, tuple[float, float]] = {
    "max_active": (1, 20),
    "daily_user": (1, 10_000),
    "daily_guild": (1, 1_000_000),
    "cooldown_s": (0, 3600),
    "strike_decay_h": (1, 24 * 90),
    "appeals_per_day": (0, 50),
}


def limits_from_json(data: dict[str, Any] | None) -> Limits:
    """Return Limits from a stored dict (unknown keys ignored, bad values replaced by defaults)."""
    limits = Limits()
    for key, value in (data or {}).items():
        if key in LIMIT_RANGES and isinstance(value, int | float):
            try:
                limits = with_limit(limits, key, value)
            except ValueError:
                continue
    return limits


def with_limit(limits: Limits, key: str, value: float) -> Limits:
    """Return `limits` with one value changed; raise ValueError naming the allowed range."""
    if key not in LIMIT_RANGES:
        raise ValueError(f"unknown limit {key!r}; known: {', '.join(LIMIT_RANGES)}")
    low, high = LIMIT_RANGES[key]
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low:g} and {high:g}, got {value:g}")
    kind = {f.name: f.type for f in fields(Limits)}[key]
    return replace(limits, **{key: int(value) if kind == "int" else float(value)})


def limits_to_json(limits: Limits) -> dict[str, Any]:
    """Return the limits as a JSON-ready dict."""
    return asdict(limits)


@dataclass(frozen=True)
class Usage:
    """What one user (and their guild) has used, as the store reports it."""

    active: int
    user_today: int
    guild_today: int
    last_job_at: float | None
    strike_times: tuple[float, ...] = ()


@dataclass(frozen=True)
class Denial:
    """Why a command may not start now, in words for the user, and when to try again."""

    code: str
    message: str
    retry_after_s: float | None = None


def live_strikes(strike_times: tuple[float, ...], now: float, limits: Limits) -> int:
    """Return how many strikes still count (younger than the decay)."""
    horizon = now - limits.strike_decay_h * 3600
    return sum(1 for t in strike_times if t >= horizon)


def strike_cooldown(strike_times: tuple[float, ...], now: float, limits: Limits) -> float:
    """Return the seconds a user must wait after their latest strike (0 when none apply)."""
    count = live_strikes(strike_times, now, limits)
    if count == 0:
        return 0.0
    wait = STRIKE_COOLDOWNS[min(count, len(STRIKE_COOLDOWNS) - 1)]
    return max(0.0, max(strike_times) + wait - now)


def admit(limits: Limits, usage: Usage, now: float) -> Denial | None:
    """Return why a user may not start a job now, or None when they may."""
    wait = strike_cooldown(usage.strike_times, now, limits)
    if wait > 0:
        return Denial(
            "strikes",
            f"Several of your recent prompts were refused, so you can generate again in "
            f"{_duration(wait)}.",
            wait,
        )
    if usage.active >= limits.max_active:
        return Denial(
            "active",
            f"You already have {usage.active} jobs running (the limit here is "
            f"{limits.max_active}). Try again when one finishes; `/queue` shows them.",
        )
    if usage.user_today >= limits.daily_user:
        return Denial(
            "daily_user", f"You have used today's {limits.daily_user} generations on this server."
        )
    if usage.guild_today >= limits.daily_guild:
        return Denial(
            "daily_guild", f"This server has used today's {limits.daily_guild} generations."
        )
    if usage.last_job_at is not None and now - usage.last_job_at < limits.cooldown_s:
        wait = limits.cooldown_s - (now - usage.last_job_at)
        return Denial("cooldown", f"Slow down a little: try again in {_duration(wait)}.", wait)
    return None


def _duration(seconds: float) -> str:
    seconds = max(1, round(seconds))
    if seconds < 90:
        return f"{seconds} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
