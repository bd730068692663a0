"""The slash-command interface: names and options are part of it, and the README lists them."""

from pathlib import Path

import discord
from discord.ext import commands

from bot.client import EXTENSIONS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
EXPECTED = {
    "imagine": ["prompt", "seed"],
    "vary": ["image", "strength"],
    "blend": ["a", "b"],
    "write": ["prompt", "max_tokens", "temperature"],
    "compose": ["prompt", "key", "meter", "rhythm"],
    "queue": [],
    "job": ["id"],
    "help": [],
}


async def command_tree() -> dict[str, dict]:
    bot = commands.Bot(command_prefix="!", intents=discord.Intents.default())
    for extension in EXTENSIONS:
        await bot.load_extension(extension)
    return {c.name: c.to_dict(bot.tree) for c in bot.tree.get_commands()}


def paths(payload: dict, prefix: str = "") -> list[str]:
    """Return '/a b c' for every leaf command in a payload."""
    name = f"{prefix} {payload['name']}".strip()
    subs = [o for o in payload.get("options", []) if o["type"] in (1, 2)]
    if not subs:
        return [f"/{name}"]
    return [p for sub in subs for p in paths(sub, name)]


async def test_commands_and_option_names_are_the_documented_interface():
    tree = await command_tree()
    for name, options in EXPECTED.items():
        assert [o["name"] for o in tree[name].get("options", [])] == options
    leaves = {p for payload in tree.values() for p in paths(payload)}
    assert {"/mod policy set", "/mod review", "/mod denylist add", "/privacy forget"} <= leaves


async def test_every_slash_command_is_in_the_readme():
    tree = await command_tree()
    leaves = [p for payload in tree.values() for p in paths(payload)]
    missing = [p for p in leaves if f"`{p}" not in README]
    assert not missing, f"README lacks: {missing}"


async def test_moderation_commands_are_hidden_from_members_by_default():
    tree = await command_tree()
    wanted = discord.Permissions(moderate_members=True).value
    assert int(tree["mod"]["default_member_permissions"]) == wanted
    assert tree["mod"]["dm_permission"] is False  # guilds only


def test_genbot_run_without_a_token_says_how_to_get_one(tmp_path, capsys):
    from bot.cli import main

    status = main(["run"], environ={"GENBOT_HOME": str(tmp_path)})
    out = capsys.readouterr().out
    assert status == 2
    assert "DISCORD_TOKEN" in out and "developer portal" in out and "applications.commands" in out
