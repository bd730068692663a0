"""The fairness decisions, table-tested without Discord or SQLite."""

import pytest

from bot.limits import (
    Limits,
    Usage,
    admit,
    limits_from_json,
    limits_to_json,
    live_strikes,
    strike_cooldown,
    with_limit,
)

NOW = 1_000_000.0
FREE = Usage(active=0, user_today=0, guild_today=0, last_job_at=None)


@pytest.mark.parametrize(
    ("usage", "code"),
    [
        (FREE, None),
        (Usage(3, 0, 0, None), "active"),
        (Usage(2, 100, 0, None), "daily_user"),
        (Usage(0, 5, 2000, None), "daily_guild"),
        (Usage(0, 5, 5, NOW - 1.0), "cooldown"),
        (Usage(0, 5, 5, NOW - 2.5), None),
        (Usage(0, 0, 0, None, (NOW - 10, NOW - 5)), "strikes"),  # 2 strikes: 60 s
        (Usage(0, 0, 0, None, (NOW - 100, NOW - 70)), None),  # ... served
        (Usage(0, 0, 0, None, (NOW - 5,)), None),  # one strike: a warning only
        (Usage(0, 0, 0, None, (NOW - 90_000, NOW - 89_000, NOW - 5)), None),  # two decayed
    ],
)
def test_admit(usage, code):
    denial = admit(Limits(), usage, NOW)
    assert (denial.code if denial else None) == code
    if denial:
        assert denial.message.endswith(".")


def test_strike_cooldown_escalates_then_caps():
    limits = Limits()
    waits = [strike_cooldown(tuple([NOW] * n), NOW, limits) for n in range(1, 9)]
    assert waits == [0.0, 60.0, 300.0, 1800.0, 3600.0, 3600.0, 3600.0, 3600.0]
    assert live_strikes((NOW - 25 * 3600, NOW), NOW, limits) == 1


def test_cooldown_denial_says_when_to_retry():
    denial = admit(Limits(cooldown_s=30), Usage(0, 1, 1, NOW - 10), NOW)
    assert denial.retry_after_s == pytest.approx(20.0)
    assert "20 s" in denial.message


def test_with_limit_checks_names_and_ranges():
    limits = with_limit(Limits(), "daily_user", 5)
    assert limits.daily_user == 5 and isinstance(limits.daily_user, int)
    with pytest.raises(ValueError, match="between 1 and 20"):
        with_limit(limits, "max_active", 0)
    with pytest.raises(ValueError, match="unknown limit"):
        with_limit(limits, "max_actvie", 2)


def test_limits_round_trip_and_ignore_bad_stored_values():
    limits = with_limit(Limits(), "cooldown_s", 7.5)
    assert limits_from_json(limits_to_json(limits)) == limits
    assert limits_from_json({"max_active": 999, "nonsense": 1, "daily_user": "x"}) == Limits()
