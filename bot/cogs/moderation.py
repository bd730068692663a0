"""/mod: a guild's policy, review queue, log, stats, strikes, image denylist and rules.
Visible to Moderate Members by default and checked again on every use."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.actions import PrivateGroup, is_moderator, say
from bot.attachments import read_image
from bot.guilds import save_guild_config
from bot.limits import DAY_S, LIMIT_RANGES, live_strikes, with_limit
from bot.views import view_of
from moderation import bias_report
from moderation.labels import LABELS
from moderation.policy import ALWAYS_HELD, PRESETS
from moderation.uploads import UploadError

RULE_KINDS = ["keyword", "regex", "allow"]  # keywords take * wildcards


class ModGroup(PrivateGroup):
    """Checks the moderator permission before any /mod command runs. discord.py asks only a
    command's immediate parent, so every /mod subgroup is a ModGroup too."""

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None or not is_moderator(interaction):
            await say(
                interaction, "Only moderators (Manage Server or Moderate Members) can do that."
            )
            return False
        return True


mod = ModGroup(
    name="mod",
    description="Moderation settings and review",
    guild_only=True,
    default_permissions=discord.Permissions(moderate_members=True),
)
policy = ModGroup(name="policy", description="This server's policy", parent=mod)
denylist = ModGroup(name="denylist", description="Banned images", parent=mod)
rules = ModGroup(name="rules", description="This server's own rules", parent=mod)


def _bot(interaction: discord.Interaction):
    return interaction.client


async def _config(interaction: discord.Interaction):
    return await _bot(interaction).guild_config(interaction.guild_id)


async def _save(interaction: discord.Interaction, config, message: str) -> None:
    await save_guild_config(_bot(interaction).store, config, interaction.user.id)
    _bot(interaction).forget_guild_config(interaction.guild_id)
    await say(interaction, message)


@policy.command(name="show", description="Show this server's policy and limits")
async def policy_show(interaction: discord.Interaction) -> None:
    config = await _config(interaction)
    limits = ", ".join(f"{k}={getattr(config.limits, k):g}" for k in LIMIT_RANGES)
    channel = f"<#{config.review_channel}>" if config.review_channel else "none (use /mod review)"
    overrides = json.dumps(config.overrides) if config.overrides else "none"
    await say(
        interaction,
        f"preset **{config.preset}** · shadow {'on' if config.shadow else 'off'} · review channel "
        f"{channel}\noverrides: {overrides}\nlimits: {limits}\n"
        f"rules: {len(config.rules)} · denylisted images: {len(config.denylist)}",
    )


@policy.command(name="set", description="Set a limit, a label threshold or the review channel")
@app_commands.describe(
    key="a limit (daily_user…), LABEL.flag / LABEL.block, or review_channel",
    value="a number, or a channel mention/id",
)
async def policy_set(interaction: discord.Interaction, key: str, value: str) -> None:
    config = await _config(interaction)
    try:
        config = _updated(config, key.strip(), value.strip())
    except ValueError as exc:
        await say(interaction, f"Not changed: {exc}.")
        return
    await _save(interaction, config, f"Set `{key}` to `{value}`.")


def _updated(config, key: str, value: str):
    """Return the config with one setting changed; raise ValueError with the reason."""
    if key == "review_channel":
        digits = "".join(c for c in value if c.isdigit())
        if not digits:
            raise ValueError("review_channel needs a channel mention or id")
        return replace(config, review_channel=int(digits))
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if key in LIMIT_RANGES:
        return replace(config, limits=with_limit(config.limits, key, number))
    label, _, which = key.partition(".")
    if label not in LABELS or which not in ("flag", "block"):
        raise ValueError(f"unknown setting {key!r}")
    if label in ALWAYS_HELD:
        raise ValueError(f"`{label}` outputs are always held for review; that cannot be changed")
    if not 0.0 <= number <= 1.01:
        raise ValueError("thresholds are between 0 and 1 (1.01 means never)")
    base = PRESETS[config.preset].output
    pair = list(config.overrides.get(label) or [base[label].flag, base[label].block])
    pair[0 if which == "flag" else 1] = number
    if pair[0] > pair[1]:
        raise ValueError(f"the flag threshold ({pair[0]:g}) must not exceed block ({pair[1]:g})")
    return replace(config, overrides={**config.overrides, label: pair})


@policy.command(name="preset", description="Choose kids, pg13 or adult")
@app_commands.choices(name=[app_commands.Choice(name=p, value=p) for p in PRESETS])
async def policy_preset(interaction: discord.Interaction, name: str) -> None:
    config = replace(await _config(interaction), preset=name)
    note = " (adult applies only in age-restricted channels)" if name == "adult" else ""
    await _save(interaction, config, f"Preset is now **{name}**{note}.")


@policy.command(name="shadow", description="Shadow mode: log what would happen, enforce nothing")
async def policy_shadow(interaction: discord.Interaction, on: bool) -> None:
    config = replace(await _config(interaction), shadow=on)
    await _save(interaction, config, f"Shadow mode {'on' if on else 'off'}.")


@mod.command(name="review", description="Pending held results, reports and appeals")
async def review(interaction: discord.Interaction) -> None:
    store = _bot(interaction).store
    items = await store.pending_reviews(interaction.guild_id)
    appeals = await store.open_appeals(interaction.guild_id)
    if not items and not appeals:
        await say(interaction, "Nothing to review.")
        return
    lines, buttons = [], []
    for item in items[:5]:
        lines.append(f"#{item['id']} {item['kind']}: {render.marker(item['job'])} `{item['note']}`")
        buttons += [
            render.Button(f"Approve #{item['id']}", f"rev:approve:{item['id']}", "success"),
            render.Button(f"Reject #{item['id']}", f"rev:reject:{item['id']}", "danger"),
        ]
    for appeal in appeals[:5]:
        lines.append(
            f"appeal #{appeal['id']} of {render.marker(appeal['job'])}: {appeal['reason'][:200]}"
        )
        buttons += [
            render.Button(
                f"Accept appeal #{appeal['id']}", f"apl:accept:{appeal['id']}", "success"
            ),
            render.Button(f"Reject appeal #{appeal['id']}", f"apl:reject:{appeal['id']}", "danger"),
        ]
    more = len(items) + len(appeals) - min(5, len(items)) - min(5, len(appeals))
    if more > 0:
        lines.append(f"…and {more} more")
    await say(interaction, "\n".join(lines), view=view_of(buttons[:25]))


@mod.command(name="log", description="The latest moderation decisions here")
async def log_(interaction: discord.Interaction) -> None:
    rows = await _bot(interaction).store.moderation_log(interaction.guild_id, 15)
    if not rows:
        await say(interaction, "No moderation decisions yet.")
        return
    lines = []
    for r in rows:
        label = r["reasons"][0]["label"] if r["reasons"] else "-"
        shadow = (r["model_versions"] or {}).get("shadow_action")
        label += f" (shadow: would {shadow})" if shadow and shadow != r["action"] else ""
        lines.append(
            f"{render.marker(r['job'])} /{r['command']} <@{r['user']}> {r['direction']}: "
            f"**{r['action']}** `{label}`"
        )
    await say(interaction, "\n".join(lines))


@mod.command(name="stats", description="Decisions in the last 24 hours, or the bias audits")
@app_commands.describe(what="decisions: the last 24 hours; bias: the latest bias audits' figures")
@app_commands.choices(what=[app_commands.Choice(name=w, value=w) for w in ("decisions", "bias")])
async def stats(interaction: discord.Interaction, what: str = "decisions") -> None:
    if what == "bias":
        reports = _bot(interaction).settings.home / "reports"
        for message in await asyncio.to_thread(bias_report.summary_messages, reports):
            await say(interaction, message)
        return
    counts = await _bot(interaction).store.moderation_stats(
        interaction.guild_id, time.time() - DAY_S
    )
    if not counts:
        await say(interaction, "No decisions in the last 24 hours.")
        return
    lines = [
        f"{d}: " + ", ".join(f"{a} {n}" for a, n in sorted(c.items()))
        for d, c in sorted(counts.items())
    ]
    await say(interaction, "Last 24 h\n" + "\n".join(lines))


@mod.command(name="strikes", description="A member's strikes (blocked prompts); clear them")
async def strikes(
    interaction: discord.Interaction, user: discord.User, clear: bool = False
) -> None:
    store, config = _bot(interaction).store, await _config(interaction)
    if clear:
        count = await store.clear_strikes(interaction.guild_id, user.id)
        await say(interaction, f"Cleared {count} strikes of {user.mention}.")
        return
    rows = await store.strikes_since(interaction.guild_id, user.id, 0)
    live = live_strikes(tuple(r["created_at"] for r in rows), time.time(), config.limits)
    labels = ", ".join(r["label"] for r in rows[-10:]) or "none"
    await say(
        interaction, f"{user.mention}: {len(rows)} strikes, {live} still counting. Latest: {labels}"
    )


@denylist.command(
    name="add", description="Ban an image (by perceptual hash) from uploads and results"
)
async def denylist_add(
    interaction: discord.Interaction, image: discord.Attachment, note: str = ""
) -> None:
    from moderation.scorers.images import perceptual_hash
    from moderation.uploads import open_image

    try:
        data = await read_image(image)
    except UploadError as exc:
        await say(interaction, f"That image can't be used: {exc}.")
        return
    digest = perceptual_hash(open_image(data)[0])
    await _bot(interaction).store.add_denylisted_image(
        guild=interaction.guild_id, hash=digest, note=note[:200], created_by=interaction.user.id
    )
    _bot(interaction).forget_guild_config(interaction.guild_id)
    await say(interaction, f"Denylisted image hash `{digest}`.")


@rules.command(name="add", description="Add a keyword, wildcard or regex rule (or an allow rule)")
@app_commands.choices(
    kind=[app_commands.Choice(name=k, value=k) for k in RULE_KINDS],
)
async def rules_add(
    interaction: discord.Interaction,
    pattern: str,
    label: str = "spam",
    kind: str = "keyword",
    score: app_commands.Range[float, 0.0, 1.0] = 1.0,
) -> None:
    from moderation.scorers.rules import Rule, RuleError, check_guild_rule

    if kind != "allow" and label not in LABELS:
        await say(interaction, f"Unknown label {label!r}; known: {', '.join(LABELS)}.")
        return
    try:
        check_guild_rule(Rule(label, pattern, kind, score))
    except RuleError as exc:
        await say(interaction, f"That rule can't be used: {exc}.")
        return
    await _bot(interaction).store.add_rule(
        guild=interaction.guild_id,
        label=label,
        pattern=pattern,
        kind=kind,
        score=score,
        created_by=interaction.user.id,
    )
    _bot(interaction).forget_guild_config(interaction.guild_id)
    await say(interaction, f"Rule added: {kind} `{pattern}` → `{label}`.")


@rules.command(name="remove", description="Remove this server's rules with a pattern")
async def rules_remove(interaction: discord.Interaction, pattern: str) -> None:
    count = await _bot(interaction).store.remove_rule(guild=interaction.guild_id, pattern=pattern)
    _bot(interaction).forget_guild_config(interaction.guild_id)
    await say(interaction, f"Removed {count} rule(s).")


class Moderation(commands.Cog):
    """Holds the /mod group."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot


async def setup(bot: commands.Bot) -> None:
    bot.tree.add_command(mod)
    await bot.add_cog(Moderation(bot))
