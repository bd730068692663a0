"""What the fake server remembers: stored files, messages, interactions and HTTP requests."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .models import User

EPHEMERAL = 1 << 6
LOADING = 1 << 7


@dataclass
class StoredFile:
    """An uploaded or test-provided file, served from the CDN route at `url`."""

    id: int
    filename: str
    data: bytes
    content_type: str
    url: str
    description: str | None = None
    ephemeral: bool = False

    def payload(self) -> dict:
        """Return the attachment object Discord sends."""
        out = {
            "id": str(self.id),
            "filename": self.filename,
            "size": len(self.data),
            "url": self.url,
            "proxy_url": self.url,
            "content_type": self.content_type,
        }
        if self.description is not None:
            out["description"] = self.description
        if self.ephemeral:
            out["ephemeral"] = True
        return out


@dataclass
class MessageRecord:
    """A message as the server holds it; `versions` keeps every earlier state, oldest first."""

    id: int
    channel_id: int
    guild_id: int | None
    author: dict
    timestamp: str
    content: str = ""
    embeds: list[dict] = field(default_factory=list)
    components: list[dict] = field(default_factory=list)
    attachments: list[StoredFile] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    nonce: str | int | None = None
    tts: bool = False
    allowed_mentions: dict | None = None
    edited_timestamp: str | None = None
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_metadata: dict | None = None
    interaction_id: int | None = None
    deleted: bool = False
    created_mono: float = field(default_factory=time.monotonic)
    versions: list[dict] = field(default_factory=list)
    edit_times: list[float] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        """Return whether only the invoking user can see this message."""
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """Return whether this is a deferred "thinking" response not yet filled in."""
        return bool(self.flags & LOADING)

    @property
    def files(self) -> dict[str, bytes]:
        """Return the attachments' contents by filename."""
        return {a.filename: a.data for a in self.attachments}

    def custom_ids(self) -> list[str]:
        """Return every custom_id in this message's components, depth first."""
        return [c["custom_id"] for c in walk_components(self.components) if "custom_id" in c]

    def payload(self) -> dict:
        """Return the full message object Discord sends."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "author": self.author,
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": self.tts,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": [a.payload() for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": False,
            "type": self.type,
            "flags": self.flags,
        }
        optional = {
            "guild_id": self.guild_id,
            "webhook_id": self.webhook_id,
            "application_id": self.application_id,
        }
        out.update({k: str(v) for k, v in optional.items() if v is not None})
        if self.nonce is not None:
            out["nonce"] = self.nonce
        if self.interaction_metadata is not None:
            out["interaction_metadata"] = self.interaction_metadata
        return out


def walk_components(components: list[dict]) -> list[dict]:
    """Return every component nested in `components` (rows, labels, sections, containers)."""
    found: list[dict] = []
    for comp in components:
        found.append(comp)
        found.extend(walk_components(comp.get("components", [])))
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                found.extend(walk_components([comp[key]]))
    return found


@dataclass
class ApiErrorRecord:
    """An error the server answered to a request concerning an interaction."""

    status: int
    code: int
    method: str
    path: str


@dataclass
class Callback:
    """The initial interaction response: its type (4, 5, 6, 7, 9...) and data."""

    type: int
    data: dict | None
    files: list[StoredFile] = field(default_factory=list)


@dataclass
class InteractionRecord:
    """An interaction the server dispatched; fills in as the bot answers it."""

    id: int
    token: str
    type: int
    name: str
    user: User
    guild_id: int
    channel_id: int
    payload: dict
    token_created: float
    dispatched_at: float = 0.0
    acked_at: float | None = None
    callback: Callback | None = None
    original: MessageRecord | None = None
    followups: list[MessageRecord] = field(default_factory=list)
    errors: list[ApiErrorRecord] = field(default_factory=list)
    source_message: MessageRecord | None = None
    trigger: InteractionRecord | None = None
    shard_id: int = 0

    @property
    def acked_after_s(self) -> float | None:
        """Return seconds from dispatch to the accepted callback, or None while unanswered."""
        return None if self.acked_at is None else self.acked_at - self.dispatched_at

    @property
    def deferred(self) -> bool:
        """Return whether the bot acknowledged with a deferral (type 5 or 6)."""
        return self.callback is not None and self.callback.type in (5, 6)

    @property
    def modal(self) -> dict | None:
        """Return the modal the bot opened in response (callback type 9), if any."""
        if self.callback is not None and self.callback.type == 9:
            return self.callback.data
        return None

    def metadata(self) -> dict:
        """Return the `interaction_metadata` Discord attaches to response messages."""
        out: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "user": self.user.payload(),
            "authorizing_integration_owners": {"0": str(self.guild_id)},
        }
        if self.type == 2:
            out.update(name=self.name, command_type=1)
        if self.type == 3 and self.source_message is not None:
            out["interacted_message_id"] = str(self.source_message.id)
        if self.type == 5 and self.trigger is not None:
            out["triggering_interaction_metadata"] = self.trigger.metadata()
        if self.original is not None:
            out["original_response_message_id"] = str(self.original.id)
        return out


@dataclass
class RequestRecord:
    """One HTTP request the bot made."""

    method: str
    path: str
    query: dict[str, str]
    json: Any
    files: list[tuple[str, str, int]]
    status: int
    at: float
