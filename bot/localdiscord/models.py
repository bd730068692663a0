"""The configured world: users, channels and guilds, and the payloads Discord sends for them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
ADD_REACTIONS = 1 << 6
USE_APPLICATION_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3

MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
)
BOT_PERMISSIONS = MEMBER_PERMISSIONS | MANAGE_MESSAGES

# Upload limit per premium tier, as discord.py's Guild.filesize_limit reports it.
FILESIZE_LIMITS = {0: 10 * 1024 * 1024, 1: 10 * 1024 * 1024, 2: 50 * 1024 * 1024, 3: 100 * 1024**2}


class _Snowflakes:
    """Makes unique snowflakes from the wall clock, so discord.py's `created_at` is right."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0
        self._increment = 0

    def next(self, age_s: float = 0.0) -> int:
        """Return a new snowflake for the moment `age_s` seconds ago."""
        ms = int((time.time() - age_s) * 1000) - DISCORD_EPOCH_MS
        with self._lock:
            self._increment = (self._increment + 1) % 4096
            value = (ms << 22) | (1 << 17) | (1 << 12) | self._increment
            if age_s == 0.0:
                # Current-time ids must sort in creation order, as Discord's do.
                value = max(value, self._last + 1)
                self._last = value
            return value


_snowflakes = _Snowflakes()


def new_snowflake(age_s: float = 0.0) -> int:
    """Return a fresh snowflake whose timestamp is `age_s` seconds in the past."""
    return _snowflakes.next(age_s)


def snowflake_time(snowflake: int) -> float:
    """Return the Unix time encoded in a snowflake."""
    return ((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000


def iso_now(age_s: float = 0.0) -> str:
    """Return an ISO 8601 UTC timestamp, as Discord writes them."""
    return datetime.fromtimestamp(time.time() - age_s, UTC).isoformat()


@dataclass
class User:
    """A Discord user: `permissions` are their resolved guild permissions; `accepts_dms=False`
    makes DMs to them fail with 50007, as closed DMs do."""

    id: int = field(default_factory=new_snowflake)
    name: str = "tester"
    permissions: int = MEMBER_PERMISSIONS
    roles: list[int] = field(default_factory=list)
    global_name: str | None = None
    bot: bool = False
    locale: str = "en-US"
    accepts_dms: bool = True

    def payload(self) -> dict:
        """Return the user object Discord sends."""
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
            "flags": 0,
        }

    def member_payload(self, joined_at: str, *, with_permissions: bool = False) -> dict:
        """Return the guild member object for this user."""
        member = {
            "user": self.payload(),
            "roles": [str(r) for r in self.roles],
            "joined_at": joined_at,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
            "avatar": None,
            "premium_since": None,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_permissions:
            member["permissions"] = str(self.permissions)
        return member


@dataclass
class Channel:
    """A guild text channel."""

    id: int = field(default_factory=new_snowflake)
    name: str = "general"
    type: int = 0
    topic: str | None = None
    nsfw: bool = False
    position: int = 0

    def payload(self, guild_id: int | None, recipient: User | None = None) -> dict:
        """Return the channel object: a guild channel, or a DM (type 1) with `recipient`."""
        if recipient is not None:
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [recipient.payload()],
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": self.nsfw,
            "topic": self.topic,
            "parent_id": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }


@dataclass
class Guild:
    """A guild the bot is in. `channels` may be Channel objects or bare ids."""

    id: int = field(default_factory=new_snowflake)
    name: str = "Test Guild"
    channels: list[Channel | int] = field(default_factory=lambda: [Channel()])
    owner_id: int = field(default_factory=new_snowflake)
    everyone_permissions: int = MEMBER_PERMISSIONS
    bot_permissions: int = BOT_PERMISSIONS
    members: list[User] = field(default_factory=list)
    premium_tier: int = 0
    locale: str = "en-US"
    features: list[str] = field(default_factory=list)
    bot_role_id: int = field(default_factory=new_snowflake)

    def __post_init__(self) -> None:
        self.channels = [
            c if isinstance(c, Channel) else Channel(id=c, name=f"channel-{i}", position=i)
            for i, c in enumerate(self.channels)
        ]

    @property
    def text_channels(self) -> list[Channel]:
        """Return the guild's channels (all Channel objects after construction)."""
        return [c for c in self.channels if isinstance(c, Channel)]

    @property
    def filesize_limit(self) -> int:
        """Return the upload limit in bytes for this guild's premium tier."""
        return FILESIZE_LIMITS[self.premium_tier]

    def roles_payload(self, bot: User) -> list[dict]:
        """Return @everyone (id == guild id) and the bot's managed role."""
        everyone = _role(self.id, "@everyone", self.everyone_permissions, 0)
        managed = _role(self.bot_role_id, bot.name, self.bot_permissions, 1)
        managed.update(managed=True, tags={"bot_id": str(bot.id)})
        return [everyone, managed]

    def create_payload(self, bot: User, joined_at: str) -> dict:
        """Return the full GUILD_CREATE payload as the bot sees it."""
        bot_member = User(id=bot.id, name=bot.name, bot=True, roles=[self.bot_role_id])
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": self.premium_tier,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": list(self.features),
            "roles": self.roles_payload(bot),
            "emojis": [],
            "stickers": [],
            "channels": [c.payload(self.id) for c in self.text_channels],
            "threads": [],
            "members": [bot_member.member_payload(joined_at)],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "member_count": 1 + len(self.members),
            "large": False,
            "unavailable": False,
            "joined_at": joined_at,
            "application_id": None,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
            "max_video_channel_users": 25,
        }


def _role(role_id: int, name: str, permissions: int, position: int) -> dict:
    """Return a role object."""
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": False,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "flags": 0,
    }
