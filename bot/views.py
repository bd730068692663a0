"""Persistent buttons and the appeal modal. One `DynamicItem` class matches every genbot
custom_id (`gen:…`, `rev:…`, `appeal:…`, `apl:…`, `privacy:…`), so a button works after any
restart: discord.py rebuilds it from its custom_id and `bot.actions` routes the click."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import discord

from bot.render import Button

STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "danger": discord.ButtonStyle.danger,
    "success": discord.ButtonStyle.success,
}
CUSTOM_ID = r"(?P<custom_id>(?:gen|rev|appeal|apl|privacy):[a-z0-9:]{1,80})"


class ActionButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID):
    """Any genbot button; the click goes to `bot.actions.on_button`."""

    def __init__(self, button: discord.ui.Button) -> None:
        super().__init__(button)

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> ActionButton:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.client.actions.on_button(interaction, self.item.custom_id)


def make_button(spec: Button) -> ActionButton:
    """Return the persistent button for a rendered button spec."""
    return ActionButton(
        discord.ui.Button(
            label=spec.label, custom_id=spec.custom_id, style=STYLES[spec.style], row=spec.row
        )
    )


def view_of(buttons: Iterable[Button]) -> discord.ui.View | None:
    """Return a timeout-free view holding the buttons, or None when there are none."""
    buttons = list(buttons)
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    for spec in buttons:
        view.add_item(make_button(spec))
    return view


class AppealModal(discord.ui.Modal, title="Appeal this refusal"):
    """Asks why the refusal was wrong; the answer goes to the moderators' review queue."""

    reason: discord.ui.TextInput = discord.ui.TextInput(
        label="Why should a moderator allow it?",
        custom_id="reason",
        style=discord.TextStyle.paragraph,
        max_length=500,
        required=True,
    )

    def __init__(self, job_id: int, actions: Any) -> None:
        super().__init__(custom_id=f"appeal-modal:{job_id}", timeout=900)
        self.job_id, self.actions = job_id, actions

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.actions.on_appeal(interaction, self.job_id, str(self.reason.value))


class ConfirmForget(discord.ui.View):
    """One button that deletes the user's data, only for that user."""

    def __init__(self, user_id: int) -> None:
        super().__init__(timeout=None)
        self.add_item(make_button(Button("Delete my data", f"privacy:forget:{user_id}", "danger")))
