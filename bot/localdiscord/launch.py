"""Run a bot against a fake Discord: `python -m bot.localdiscord.launch MODULE:FUNC [args...]`.

Reads GENBOT_LOCALDISCORD_API (e.g. http://127.0.0.1:8123) and removes it from the environment
(genbot's settings reject unknown GENBOT_* variables), points discord.py's REST base, gateway
and CDN at it, then imports MODULE and exits with FUNC(args). Only local mode and the tests do
this; the bot's own modules never touch these class attributes.
"""

from __future__ import annotations

import importlib
import os
import sys

import discord
import discord.asset
import discord.gateway
import discord.http
import yarl

ENV_VAR = "GENBOT_LOCALDISCORD_API"


def point_discord_at(api: str) -> None:
    """Aim discord.py's REST, gateway and asset URLs at `api` (http://host:port)."""
    api = api.rstrip("/")
    ws = "ws" + api[len("http") :] + "/gateway"
    discord.http.Route.BASE = f"{api}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(ws)
    discord.asset.Asset.BASE = api


def main(argv: list[str]) -> int:
    """Patch discord.py from the environment, then return MODULE:FUNC(rest of argv)."""
    if not argv or ":" not in argv[0]:
        print("usage: python -m bot.localdiscord.launch MODULE:FUNC [args...]", file=sys.stderr)
        return 2
    api = os.environ.pop(ENV_VAR, None)
    if not api:
        print(f"{ENV_VAR} is not set", file=sys.stderr)
        return 2
    point_discord_at(api)
    module_name, func_name = argv[0].split(":", 1)
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
