"""The local page's slash-command parser: text + synced definitions -> invoke() arguments."""

from __future__ import annotations

import pytest

from bot.localdiscord.slash import CHANNEL, USER, SlashCall, SlashError, parse_slash
from tests.localmode.commands import COMMANDS

NAMES = {USER: {"ada": 11, "mo": 10}, CHANNEL: {"general": 21, "mod-review": 23}}


@pytest.mark.parametrize(
    ("text", "files", "expected"),
    [
        ("/imagine prompt: red heart", (), SlashCall("imagine", None, {"prompt": "red heart"})),
        (
            "/imagine prompt: red heart seed: 3",
            (),
            SlashCall("imagine", None, {"prompt": "red heart", "seed": 3}),
        ),
        (
            "  /imagine seed:3 prompt:a cat  ",
            (),
            SlashCall("imagine", None, {"prompt": "a cat", "seed": 3}),
        ),
        # Colons inside a value stay in it; only the command's option names split.
        ("/imagine prompt: a cat: cute", (), SlashCall("imagine", None, {"prompt": "a cat: cute"})),
        ("/IMAGINE Prompt: Sun", (), SlashCall("imagine", None, {"prompt": "Sun"})),
        ("/help", (), SlashCall("help")),
        (
            "/mod policy set key: toxicity.flag value: 0",
            (),
            SlashCall("mod", "policy set", {"key": "toxicity.flag", "value": "0"}),
        ),
        ("/mod policy shadow on: yes", (), SlashCall("mod", "policy shadow", {"on": True})),
        ("/mod policy shadow on: False", (), SlashCall("mod", "policy shadow", {"on": False})),
        ("/mod strikes user: @Ada", (), SlashCall("mod", "strikes", {"user": 11})),
        (
            "/mod strikes user: <@10> where: #general",
            (),
            SlashCall("mod", "strikes", {"user": 10, "where": 21}),
        ),
        ("/mod strikes user: 12345", (), SlashCall("mod", "strikes", {"user": 12345})),
        (
            "/compose prompt: jig key: a minor",
            (),
            SlashCall("compose", None, {"prompt": "jig", "key": "Am"}),
        ),
        (
            "/compose prompt: jig key: Am",
            (),
            SlashCall("compose", None, {"prompt": "jig", "key": "Am"}),
        ),
        ("/vary", ("image",), SlashCall("vary", None, {}, ("image",))),
        (
            "/vary image: cat.png strength: 0.25",
            ("image",),
            SlashCall("vary", None, {"strength": 0.25}, ("image",)),
        ),
    ],
)
def test_parses(text, files, expected):
    assert parse_slash(text, COMMANDS, files=files, names=NAMES) == expected


@pytest.mark.parametrize(
    ("text", "files", "message"),
    [
        ("imagine prompt: x", (), "Commands start with /"),
        ("/", (), "Type a command name"),
        ("/imagin prompt: x", (), "Unknown command /imagin. Did you mean /imagine?"),
        ("/nope", (), "Commands: /compose, /help, /imagine, /mod, /vary"),
        ("/report", (), "Unknown command /report"),  # a context-menu command, not a chat one
        ("/imagine", (), "/imagine needs prompt (what to draw)"),
        ("/imagine seed: 3", (), "/imagine needs prompt"),
        ("/imagine prompt:", (), "prompt needs a value (text)"),
        (
            "/imagine red heart",
            (),
            "Name the option before its value, e.g. /imagine prompt: red heart",
        ),
        ("/imagine colour: red", (), "/imagine has no option 'colour'"),
        ("/imagine promt: red", (), "Did you mean prompt?"),
        ("/imagine prompt: x seed: abc", (), "seed must be a whole number, not 'abc'"),
        ("/imagine prompt: x seed: 1.5", (), "seed must be a whole number"),
        ("/imagine prompt: x seed: -1", (), "seed must be between 0 and 2147483647, not -1"),
        ("/imagine prompt: x prompt: y", (), "prompt is given twice"),
        ("/imagine prompt: " + "x" * 501, (), "prompt must be 1–500 characters long, not 501"),
        ("/vary strength: 0.5", (), "/vary needs a file for image"),
        ("/vary strength: lots", ("image",), "strength must be a number, not 'lots'"),
        ("/vary strength: nan", ("image",), "strength is out of range"),
        ("/imagine prompt: x", ("image",), "/imagine has no file option 'image'"),
        ("/help me", (), "/help takes no options"),
        ("/mod", (), "/mod needs a subcommand: policy, strikes"),
        ("/mod polic", (), "/mod has no subcommand 'polic'; choose one of: policy, strikes"),
        ("/mod policy key: x", (), "/mod policy needs a subcommand: set, shadow"),
        ("/mod policy shadow on: maybe", (), "on must be true or false, not 'maybe'"),
        ("/mod strikes user: Zed", (), "user: no member named 'Zed'; known: ada, mo"),
        ("/compose prompt: jig key: H", (), "key must be one of: C, A minor"),
    ],
)
def test_explains_what_is_wrong(text, files, message):
    with pytest.raises(SlashError) as caught:
        parse_slash(text, COMMANDS, files=files, names=NAMES)
    assert message in str(caught.value)


def test_without_synced_commands_it_says_the_bot_may_not_be_connected():
    with pytest.raises(SlashError, match="is the bot connected"):
        parse_slash("/imagine prompt: x", [])
