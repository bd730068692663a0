"""A guild's moderation and fairness settings as one value: policy preset and overrides, shadow
mode, review and gallery channels, limits, its own rules and image denylist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.limits import Limits, limits_from_json
from moderation.policy import DEFAULT_PRESET, policy_for


@dataclass(frozen=True)
class GuildConfig:
    """Everything the bot needs to know about one guild's settings."""

    guild: int | None
    preset: str = DEFAULT_PRESET
    overrides: dict[str, Any] = field(default_factory=dict)
    shadow: bool = False
    review_channel: int | None = None
    gallery_channel: int | None = None
    limits: Limits = field(default_factory=Limits)
    rules: tuple[dict[str, Any], ...] = ()
    denylist: tuple[str, ...] = ()

    def policy(self, age_restricted: bool = False) -> dict[str, Any]:
        """Return the policy as the service's JSON; `adult` applies only where the channel is
        age-restricted, elsewhere it falls back to pg13."""
        return policy_for(self.preset, self.overrides, self.shadow, age_restricted).to_json()


async def load_guild_config(store: Any, guild: int | None) -> GuildConfig:
    """Return the guild's settings from the store (defaults for a guild never configured)."""
    if guild is None:
        return GuildConfig(None)
    row = await store.get_guild_policy(guild)
    rules = tuple(
        {"label": r["label"], "pattern": r["pattern"], "kind": r["kind"], "score": r["score"]}
        for r in await store.guild_rules(guild)
    )
    denylist = tuple(await store.denylisted_images(guild))
    if row is None:
        return GuildConfig(guild, rules=rules, denylist=denylist)
    return GuildConfig(
        guild,
        preset=row["preset"],
        overrides=row["overrides"] or {},
        shadow=bool(row["shadow"]),
        review_channel=row["review_channel"],
        gallery_channel=row.get("gallery_channel"),
        limits=limits_from_json(row.get("limits")),
        rules=rules,
        denylist=denylist,
    )


async def save_guild_config(store: Any, config: GuildConfig, by: int) -> None:
    """Store the guild's policy row (rules and denylist have their own tables)."""
    from bot.limits import limits_to_json

    await store.set_guild_policy(
        config.guild,
        preset=config.preset,
        overrides=config.overrides,
        shadow=config.shadow,
        review_channel=config.review_channel,
        gallery_channel=config.gallery_channel,
        updated_by=by,
        limits=limits_to_json(config.limits),
    )
