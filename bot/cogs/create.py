"""Creating: /imagine, /vary, /blend, /write, /compose. Each defers first, checks its options,
then hands the job to `bot.actions.start`."""

from __future__ import annotations

import uuid
from pathlib import Path

import discord
from discord import app_commands
from discord.ext import commands

from bot.actions import MAX_SEED
from bot.attachments import read_image
from bot.requests import uploads_dir
from generators.schema import MAX_PROMPT_CHARS, RequestError, prompt
from moderation.uploads import UploadError

KEYS = ["C", "G", "D", "A", "E", "F", "Bb", "Am", "Em", "Dm", "Bm"]
METERS = ["4/4", "3/4", "6/8", "2/4", "9/8"]
RHYTHMS = ["reel", "jig", "hornpipe", "polka", "waltz", "air", "slip jig"]


def _choices(values: list[str]) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=v, value=v) for v in values]


class Create(commands.Cog):
    """The generation commands."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot

    async def _prompt(self, interaction: discord.Interaction, text: str) -> str | None:
        try:
            return prompt(text)
        except RequestError as exc:
            await self.bot.actions.private(interaction, f"That prompt can't be used: {exc.reason}.")
            return None

    async def _images(self, interaction, attachments: list[discord.Attachment]) -> list[str] | None:
        """Return the checked uploads saved under GENBOT_HOME/uploads, or None after refusing."""
        folder = uploads_dir(self.bot.settings.home)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for attachment in attachments:
            try:
                data = await read_image(attachment)
            except UploadError as exc:
                await self.bot.actions.private(interaction, f"That image can't be used: {exc}.")
                return None
            path = folder / f"{uuid.uuid4().hex}.img"
            Path(path).write_bytes(data)
            paths.append(str(path))
        return paths

    @app_commands.command(name="imagine", description="Make four images from a prompt (GAN)")
    @app_commands.describe(prompt="what to draw", seed="the same seed gives the same images")
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        seed: app_commands.Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        text = await self._prompt(interaction, prompt)
        if text is not None:
            await self.bot.actions.start(interaction, "imagine", {"prompt": text}, seed=seed)

    @app_commands.command(name="vary", description="Make variations of an image (VAE)")
    @app_commands.describe(image="a PNG/JPEG/GIF/WebP image", strength="how far to wander")
    async def vary(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        strength: app_commands.Range[float, 0.05, 1.5] = 0.5,
    ) -> None:
        await interaction.response.defer(thinking=True)
        files = await self._images(interaction, [image])
        if files is not None:
            params = {
                "files": files,
                "strength": strength,
                "prompt": f"variations of {image.filename}",
            }
            await self.bot.actions.start(interaction, "vary", params)

    @app_commands.command(name="blend", description="Blend two images into a strip (VAE)")
    async def blend(
        self, interaction: discord.Interaction, a: discord.Attachment, b: discord.Attachment
    ) -> None:
        await interaction.response.defer(thinking=True)
        files = await self._images(interaction, [a, b])
        if files is not None:
            params = {"files": files, "prompt": f"blend of {a.filename} and {b.filename}"}
            await self.bot.actions.start(interaction, "blend", params)

    @app_commands.command(name="write", description="Write text from a prompt (language model)")
    async def write(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        max_tokens: app_commands.Range[int, 8, 256] = 128,
        temperature: app_commands.Range[float, 0.0, 2.0] = 0.8,
    ) -> None:
        await interaction.response.defer(thinking=True)
        text = await self._prompt(interaction, prompt)
        if text is not None:
            params = {"prompt": text, "max_tokens": max_tokens, "temperature": temperature}
            await self.bot.actions.start(interaction, "write", params)

    @app_commands.command(
        name="compose", description="Compose a folk tune (audio, ABC, piano roll)"
    )
    @app_commands.choices(key=_choices(KEYS), meter=_choices(METERS), rhythm=_choices(RHYTHMS))
    async def compose(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, MAX_PROMPT_CHARS],
        key: str | None = None,
        meter: str | None = None,
        rhythm: str | None = None,
    ) -> None:
        await interaction.response.defer(thinking=True)
        text = await self._prompt(interaction, prompt)
        if text is not None:
            params = {"prompt": text, "key": key, "meter": meter, "rhythm": rhythm}
            await self.bot.actions.start(interaction, "compose", params)


async def setup(bot: commands.Bot) -> None:
    await bot.add_cog(Create(bot))
