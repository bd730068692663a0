"""The slash-command line of the local page: `/imagine prompt: red heart seed: 3` parsed against
the synced command definitions into what `LocalDiscord.invoke` takes, or a helpful error.

Options are written `name: value`; a value runs until the next known option name of the same
command, so a prompt may contain other colons ("a cat: cute"). Attachment options take files
from the page's file picker, never from the text.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = range(3, 12)
TYPE_NAMES = {
    STRING: "text",
    INTEGER: "a whole number",
    BOOLEAN: "true or false",
    USER: "a member",
    CHANNEL: "a channel",
    ROLE: "a role",
    MENTIONABLE: "a member or role",
    NUMBER: "a number",
    ATTACHMENT: "a file",
}
TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")
# Discord's own bounds for integer options.
INT_LIMIT = 2**53
WORD = re.compile(r"\s*([^\s:]+)(:?)")
MENTION = re.compile(r"<(@!?|#|@&)(\d+)>")


class SlashError(ValueError):
    """The text is not a command the user can send; the message says what to change."""


@dataclass(frozen=True)
class SlashCall:
    """A parsed command: its name, subcommand path ("policy set"), typed options, and the
    attachment options whose files the caller supplies."""

    name: str
    subcommand: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()


def parse_slash(
    text: str,
    commands: Sequence[dict],
    *,
    files: Collection[str] = (),
    names: Mapping[int, Mapping[str, int]] | None = None,
) -> SlashCall:
    """Return the command `text` asks for, or raise SlashError saying what is wrong.

    `files` names the attachment options a file was picked for; `names` maps an option type
    (USER, CHANNEL, ROLE) to {lower-case name: id} so `user: Ada` and `channel: #general` work.
    """
    body = text.strip()
    if not body.startswith("/"):
        raise SlashError("Commands start with /, e.g. /imagine prompt: a red heart")
    command, rest = _command(body[1:], commands)
    definitions, path, rest = _subcommands(command, rest)
    shown = "/" + " ".join([command["name"], *path])
    by_name = {d["name"]: d for d in definitions}
    values = _split_options(shown, definitions, rest)
    options = {
        name: convert(by_name[name], raw, names or {})
        for name, raw in values.items()
        if by_name[name]["type"] != ATTACHMENT
    }
    attached = _attachments(shown, definitions, files)
    _check_required(shown, definitions, {*options, *attached})
    return SlashCall(command["name"], " ".join(path) or None, options, attached)


def _command(body: str, commands: Sequence[dict]) -> tuple[dict, str]:
    """Return the chat command named first in `body` and the text after its name."""
    match = WORD.match(body)
    if not match or not match.group(1):
        raise SlashError("Type a command name after /, e.g. /imagine")
    name = match.group(1).lower()
    chat = [c for c in commands if c.get("type", 1) == 1]
    found = next((c for c in chat if c["name"] == name), None)
    if found is None:
        known = sorted({c["name"] for c in chat})
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean /{close[0]}?" if close else ""
        listed = ", ".join(f"/{n}" for n in known) or "none yet (is the bot connected?)"
        raise SlashError(f"Unknown command /{name}.{hint} Commands: {listed}")
    return found, body[match.end(1) :]


def _subcommands(command: dict, rest: str) -> tuple[list[dict], list[str], str]:
    """Return the option definitions of the (sub)command named, its path and the text left."""
    definitions, path = command.get("options") or [], []
    while any(d["type"] in (SUBCOMMAND, GROUP) for d in definitions):
        subs = [d for d in definitions if d["type"] in (SUBCOMMAND, GROUP)]
        listed = ", ".join(d["name"] for d in subs)
        shown = "/" + " ".join([command["name"], *path])
        match = WORD.match(rest)
        if not match or not match.group(1) or match.group(2):
            raise SlashError(f"{shown} needs a subcommand: {listed}")
        word = match.group(1).lower()
        found = next((d for d in subs if d["name"] == word), None)
        if found is None:
            raise SlashError(f"{shown} has no subcommand {word!r}; choose one of: {listed}")
        definitions, rest = found.get("options") or [], rest[match.end(1) :]
        path.append(found["name"])
    return definitions, path, rest


def _split_options(shown: str, definitions: Sequence[dict], rest: str) -> dict[str, str]:
    """Return the raw text of each `name: value` pair, split at the command's option names."""
    known = sorted((d["name"] for d in definitions), key=len, reverse=True)
    if not known:
        if rest.strip():
            raise SlashError(f"{shown} takes no options; remove {rest.strip()!r}")
        return {}
    marker = re.compile(
        r"(?:^|(?<=\s))(" + "|".join(map(re.escape, known)) + r")\s*:", re.IGNORECASE
    )
    found = list(marker.finditer(rest))
    lead = rest[: found[0].start()] if found else rest
    if lead.strip():
        raise SlashError(_stray_text(shown, lead.strip(), known, definitions))
    values: dict[str, str] = {}
    for index, match in enumerate(found):
        name = match.group(1).lower()
        end = found[index + 1].start() if index + 1 < len(found) else len(rest)
        if name in values:
            raise SlashError(f"{name} is given twice; give each option once")
        values[name] = rest[match.end() : end].strip()
    return values


def _stray_text(shown: str, lead: str, known: list[str], definitions: Sequence[dict]) -> str:
    """Return the error for text that names no option of the command."""
    options = ", ".join(sorted(known))
    word = re.match(r"([^\s:]+):", lead)
    if word:
        close = difflib.get_close_matches(word.group(1).lower(), known, n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        return f"{shown} has no option {word.group(1)!r}.{hint} Its options: {options}"
    first = next((d["name"] for d in definitions if d.get("required")), sorted(known)[0])
    return f"Name the option before its value, e.g. {shown} {first}: {lead}"


def _attachments(shown: str, definitions: Sequence[dict], files: Collection[str]) -> tuple:
    """Return the attachment options that have a file, checking each one exists."""
    wanted = {d["name"] for d in definitions if d["type"] == ATTACHMENT}
    for name in files:
        if name not in wanted:
            raise SlashError(f"{shown} has no file option {name!r}; remove that file")
    return tuple(d["name"] for d in definitions if d["name"] in set(files))


def _check_required(shown: str, definitions: Sequence[dict], given: set[str]) -> None:
    """Raise for the first required option that was not given."""
    for d in definitions:
        if d.get("required") and d["name"] not in given:
            about = f" ({d['description']})" if d.get("description") else ""
            if d["type"] == ATTACHMENT:
                raise SlashError(f"{shown} needs a file for {d['name']}{about}: pick one with 📎")
            raise SlashError(f"{shown} needs {d['name']}{about}, e.g. {d['name']}: …")


def convert(definition: dict, raw: str, names: Mapping[int, Mapping[str, int]]) -> Any:
    """Return an option's value typed as Discord sends it, or raise SlashError."""
    name, kind = definition["name"], definition["type"]
    if raw == "":
        raise SlashError(f"{name} needs a value ({TYPE_NAMES.get(kind, 'a value')})")
    if definition.get("choices"):
        return _choice(definition, raw)
    if kind == STRING:
        return _text(definition, raw)
    if kind in (INTEGER, NUMBER):
        return _number(definition, raw)
    if kind == BOOLEAN:
        if raw.lower() in TRUE_WORDS + FALSE_WORDS:
            return raw.lower() in TRUE_WORDS
        raise SlashError(f"{name} must be true or false, not {raw!r}")
    if kind in (USER, CHANNEL, ROLE, MENTIONABLE):
        return _mention(definition, raw, names)
    raise SlashError(f"{name}: options of type {kind} are not supported here")


def _choice(definition: dict, raw: str) -> Any:
    """Return the value of the choice named (or valued) `raw`."""
    for choice in definition["choices"]:
        if raw.lower() in (str(choice["name"]).lower(), str(choice["value"]).lower()):
            return choice["value"]
    listed = ", ".join(str(c["name"]) for c in definition["choices"])
    raise SlashError(f"{definition['name']} must be one of: {listed}")


def _text(definition: dict, raw: str) -> str:
    """Return a string option, checking its length."""
    low, high = definition.get("min_length", 0), definition.get("max_length", 6000)
    if not low <= len(raw) <= high:
        raise SlashError(
            f"{definition['name']} must be {low}–{high} characters long, not {len(raw)}"
        )
    return raw


def _number(definition: dict, raw: str) -> int | float:
    """Return an integer or number option, checking its type and range."""
    name, whole = definition["name"], definition["type"] == INTEGER
    try:
        value: int | float = int(raw) if whole else float(raw)
    except ValueError:
        raise SlashError(f"{name} must be {TYPE_NAMES[definition['type']]}, not {raw!r}") from None
    if not math.isfinite(value) or abs(value) > INT_LIMIT:
        raise SlashError(f"{name} is out of range: {raw}")
    low, high = definition.get("min_value"), definition.get("max_value")
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            raise SlashError(f"{name} must be between {low} and {high}, not {raw}")
        bound = f"at least {low}" if low is not None else f"at most {high}"
        raise SlashError(f"{name} must be {bound}, not {raw}")
    return value


def _mention(definition: dict, raw: str, names: Mapping[int, Mapping[str, int]]) -> int:
    """Return the id a member, channel or role option names (by mention, id or name)."""
    kind = definition["type"]
    kinds = (USER, ROLE) if kind == MENTIONABLE else (kind,)
    mention = MENTION.fullmatch(raw)
    if mention or raw.isdigit():
        return int(mention.group(2) if mention else raw)
    key = raw.lstrip("@#&").lower()
    for k in kinds:
        if key in names.get(k, {}):
            return names[k][key]
    known = sorted(n for k in kinds for n in names.get(k, {}))
    listed = f"; known: {', '.join(known)}" if known else ""
    noun = TYPE_NAMES[kind].removeprefix("a ")
    raise SlashError(f"{definition['name']}: no {noun} named {raw!r}{listed}")
