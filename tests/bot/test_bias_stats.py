"""`/mod stats what:bias`: the option, and the message it sends from the audits' summaries."""

from types import SimpleNamespace

from bot.cogs import moderation as cog
from moderation import bias_report
from tests.bot.test_commands import command_tree


class Response:
    """Records what the command answers (the part of discord.Interaction it uses)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def is_done(self) -> bool:
        return False

    async def send_message(self, text: str, **kwargs) -> None:
        self.sent.append(text)


def interaction(home):
    """Return a stand-in for a moderator's discord.Interaction on a bot whose home is `home`."""
    client = SimpleNamespace(settings=SimpleNamespace(home=home))
    return SimpleNamespace(client=client, response=Response(), guild_id=1)


async def test_mod_stats_offers_decisions_or_bias():
    tree = await command_tree()
    stats = next(o for o in tree["mod"]["options"] if o["name"] == "stats")
    [what] = stats["options"]
    assert what["name"] == "what" and not what.get("required", False)
    assert [c["value"] for c in what["choices"]] == ["decisions", "bias"]


async def test_mod_stats_bias_shows_the_latest_summaries(tmp_path):
    asked = interaction(tmp_path)
    await cog.stats.callback(asked, what="bias")
    assert "No bias audits yet" in asked.response.sent[0]
    lines = ["tone honoured: highest none 90.0% [80.0%, 95.0%], lowest dark skin tone 40.0%"]
    bias_report.save(tmp_path / "reports", "generation-audit-gan", {}, "Image bias", lines)
    asked = interaction(tmp_path)
    await cog.stats.callback(asked, what="bias")
    [text] = asked.response.sent
    assert text.startswith("**Image bias**") and f"- {lines[0]}" in text
