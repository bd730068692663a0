"""Building INTERACTION_CREATE payloads as Discord's client would: commands, clicks, modals."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from .models import ADMINISTRATOR, Channel, Guild, User, iso_now
from .records import MessageRecord, StoredFile, walk_components
from .state import World

FileSpec = tuple[str, bytes, str] | StoredFile  # (filename, data, content_type) or served file
SELECT_TYPES = (3, 5, 6, 7, 8)


def base_payload(
    world: World, kind: int, ids: tuple[int, str], user: User, guild: Guild, channel: Channel
) -> dict:
    """Return the fields every guild interaction carries."""
    interaction_id, token = ids
    member = user.member_payload(iso_now(age_s=3600), with_permissions=True)
    return {
        "id": str(interaction_id),
        "application_id": str(world.bot.id),
        "type": kind,
        "token": token,
        "version": 1,
        "guild_id": str(guild.id),
        "guild": {"id": str(guild.id), "locale": guild.locale, "features": guild.features},
        "channel_id": str(channel.id),
        "channel": {**channel.payload(guild.id), "permissions": str(user.permissions)},
        "member": member,
        "locale": user.locale,
        "guild_locale": guild.locale,
        "app_permissions": str(guild.bot_permissions),
        "entitlements": [],
        "entitlement_sku_ids": [],
        "authorizing_integration_owners": {"0": str(guild.id)},
        "context": 0,
        "attachment_size_limit": guild.filesize_limit,
    }


def find_command(world: World, name: str, guild_id: int) -> dict:
    """Return the synced chat command `name` (guild scope first), or fail saying what is synced."""
    for scope in (guild_id, None):
        for command in world.commands.get(scope, []):
            if command["name"] == name and command.get("type", 1) == 1:
                return command
    synced = {scope: [c["name"] for c in cmds] for scope, cmds in world.commands.items()}
    raise LookupError(f"/{name} was not synced to guild {guild_id} or globally; synced: {synced}")


def check_permissions(command: dict, user: User) -> None:
    """Raise PermissionError when Discord would not offer the command to this user."""
    value = command.get("default_member_permissions")
    if value is None or user.permissions & ADMINISTRATOR:
        return
    needed = int(value)
    if needed == 0 or user.permissions & needed != needed:
        raise PermissionError(
            f"Discord would not offer /{command['name']} to {user.name}: it needs "
            f"default_member_permissions={needed:#x}, they have {user.permissions:#x} "
            "(pass enforce_permissions=False to simulate a server override)"
        )


def command_data(
    world: World,
    command: dict,
    path: list[str],
    values: dict[str, Any],
    context: tuple[Guild, int],
) -> dict:
    """Return `data` for a chat command: options nested under subcommand groups, and resolved."""
    definitions, chain = command.get("options", []), []
    for part in path:
        found = [o for o in definitions if o["name"] == part and o["type"] in (1, 2)]
        if not found:
            raise LookupError(f"/{command['name']} has no subcommand (group) {part!r}")
        chain.append(found[0])
        definitions = found[0].get("options", [])
    if chain and chain[-1]["type"] != 1:
        raise LookupError(f"{' '.join(path)!r} of /{command['name']} is a group, not a command")
    resolved: dict[str, dict] = {}
    options = _options(world, definitions, values, context, resolved)
    for sub in reversed(chain):
        options = [{"type": sub["type"], "name": sub["name"], "options": options}]
    data = {"id": command["id"], "name": command["name"], "type": 1, "options": options}
    if resolved:
        data["resolved"] = resolved
    if "guild_id" in command:
        data["guild_id"] = command["guild_id"]
    return data


def _options(
    world: World,
    definitions: list[dict],
    values: dict[str, Any],
    context: tuple[Guild, int],
    resolved: dict[str, dict],
) -> list[dict]:
    """Return the value options, typed by the command's definitions; check required/choices."""
    known = {d["name"]: d for d in definitions}
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown options {sorted(unknown)}; the command has {sorted(known)}")
    options = []
    for name, definition in known.items():
        if name not in values:
            if definition.get("required"):
                raise ValueError(f"required option {name!r} missing")
            continue
        value = _convert(world, definition, values[name], context, resolved)
        choices = [c["value"] for c in definition.get("choices") or []]
        if choices and value not in choices:
            raise ValueError(f"{name}={value!r} is not one of the choices {choices}")
        options.append({"type": definition["type"], "name": name, "value": value})
    return options


def _convert(
    world: World, definition: dict, value: Any, context: tuple[Guild, int], resolved: dict
) -> Any:
    """Return an option value as Discord sends it, filling `resolved` for ids."""
    kind, guild = definition["type"], context[0]
    if kind == 3:
        text = str(value)
        low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
        if not low <= len(text) <= high:
            raise ValueError(f"{definition['name']!r} must be {low}..{high} characters")
        return text
    if kind in (4, 10):
        number = int(value) if kind == 4 else float(value)
        low, high = definition.get("min_value"), definition.get("max_value")
        if (low is not None and number < low) or (high is not None and number > high):
            raise ValueError(f"{definition['name']!r} must be within {low}..{high}")
        return number
    if kind == 5:
        return bool(value)
    if kind == 6:
        user = value if isinstance(value, User) else _member(guild, int(value))
        resolved.setdefault("users", {})[str(user.id)] = user.payload()
        member = user.member_payload(iso_now(age_s=3600), with_permissions=True)
        del member["user"]
        resolved.setdefault("members", {})[str(user.id)] = member
        return str(user.id)
    if kind == 7:
        channel_id = value.id if isinstance(value, Channel) else int(value)
        _, channel = world.channel(channel_id)
        partial = {**channel.payload(guild.id), "permissions": str(guild.everyone_permissions)}
        resolved.setdefault("channels", {})[str(channel_id)] = partial
        return str(channel_id)
    if kind == 8:
        roles = {r["id"]: r for r in guild.roles_payload(world.bot)}
        role = roles[str(int(value))]
        resolved.setdefault("roles", {})[role["id"]] = role
        return role["id"]
    if kind == 11:
        # A (filename, bytes, content_type) upload, or a file already served by the fake.
        is_stored = isinstance(value, StoredFile)
        stored = (
            value if is_stored else world.store_file(*value, channel_id=context[1], ephemeral=True)
        )
        resolved.setdefault("attachments", {})[str(stored.id)] = stored.payload()
        return str(stored.id)
    raise ValueError(f"option type {kind} is not supported by the fake")


def _member(guild: Guild, user_id: int) -> User:
    """Return a configured guild member by id."""
    for user in guild.members:
        if user.id == user_id:
            return user
    raise ValueError(f"user {user_id} is not a member of guild {guild.id}; pass a User")


def component_data(message: MessageRecord, custom_id: str, values: list[str] | None) -> dict:
    """Return `data` for a click/select on a component of `message`, checking it is usable."""
    found = [c for c in walk_components(message.components) if c.get("custom_id") == custom_id]
    if not found:
        raise LookupError(f"no component {custom_id!r} on message; has {message.custom_ids()}")
    component = found[0]
    if component.get("disabled"):
        raise ValueError(f"component {custom_id!r} is disabled")
    data = {"custom_id": custom_id, "component_type": component["type"]}
    if "id" in component:
        data["id"] = component["id"]
    if component["type"] in SELECT_TYPES:
        data["values"] = list(values or [])
    return data


def modal_data(
    world: World, custom_id: str, modal: dict | None, values: dict, channel_id: int
) -> dict:
    """Return `data` for a modal submit, shaped like the modal that was opened (Label default)."""
    if modal is None:
        top = [{"type": 18, "component": {"type": 4, "custom_id": name}} for name in values]
    else:
        top = modal["components"]
        named = {c.get("custom_id") for c in walk_components(top)}
        if set(values) - named:
            raise ValueError(f"modal {custom_id!r} has no fields {sorted(set(values) - named)}")
    numbers = itertools.count(1)
    resolved: dict[str, dict] = {}
    out: list[dict] = []
    for comp in top:
        entry = {"type": comp["type"], "id": comp.get("id") or next(numbers)}
        if comp["type"] == 1:
            fields = comp["components"]
            entry["components"] = [
                _field(world, c, values, (channel_id, resolved), numbers) for c in fields
            ]
        elif comp["type"] == 18:
            field = comp["component"]
            entry["component"] = _field(world, field, values, (channel_id, resolved), numbers)
        out.append(entry)
    data = {"custom_id": custom_id, "components": out}
    if resolved:
        data["resolved"] = resolved
    return data


def _field(
    world: World,
    comp: dict,
    values: dict,
    sink: tuple[int, dict],
    numbers: Iterator[int],
) -> dict:
    """Return one submitted field: a text input's value, a select's values, uploaded files..."""
    channel_id, resolved = sink
    cid, kind = comp.get("custom_id"), comp["type"]
    entry: dict[str, Any] = {"type": kind, "id": comp.get("id") or next(numbers), "custom_id": cid}
    given = values.get(cid)
    if kind == 4:
        entry["value"] = "" if given is None else str(given)
        if comp.get("required", True) and not entry["value"]:
            raise ValueError(f"text input {cid!r} is required")
    elif kind == 19:
        stored = [world.store_file(*f, channel_id=channel_id, ephemeral=True) for f in given or []]
        for s in stored:
            resolved.setdefault("attachments", {})[str(s.id)] = s.payload()
        entry["values"] = [str(s.id) for s in stored]
    elif kind in (21, 23):
        entry["value"] = given if kind == 21 else bool(given)
    else:
        entry["values"] = [str(v) for v in given or []]
    return entry
