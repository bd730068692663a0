"""`genbot run --local`: its arguments, its guild, the bot's environment, and a busy port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot import localmode
from bot.cli import main as cli_main
from bot.localmode import DEFAULT_PORT, LocalModeError, LocalOptions, child_env, parse_args
from bot.settings import BotSettings, known_variables


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--local"], LocalOptions(DEFAULT_PORT, ())),
        (["--local", "--tiny"], LocalOptions(DEFAULT_PORT, ("--tiny",))),
        (["--tiny", "--local", "--port", "18888"], LocalOptions(18888, ("--tiny",))),
        (["--local", "--port=0", "--device", "cpu"], LocalOptions(0, ("--device", "cpu"))),
    ],
)
def test_parse_args(argv, expected):
    assert parse_args(argv) == expected


@pytest.mark.parametrize("argv", [["--local", "--port"], ["--local", "--port", "http"]])
def test_parse_args_refuses_a_bad_port(argv):
    with pytest.raises(LocalModeError, match="--port needs a port number"):
        parse_args(argv)


def test_the_local_guild():
    guild = localmode.local_guild()
    assert guild.name == "genbot local"
    assert [(c.name, c.nsfw) for c in guild.text_channels] == [
        ("general", False),
        ("art-18", True),
        ("mod-review", False),
    ]
    mo, ada, bo = guild.members
    assert (mo.name, ada.name, bo.name) == ("Mo", "Ada", "Bo")
    for bit in (localmode.MODERATE_MEMBERS, localmode.MANAGE_GUILD):
        assert mo.permissions & bit and not ada.permissions & bit and not bo.permissions & bit
    assert localmode.local_guild().id == guild.id  # the same guild every run


def test_the_bot_gets_only_settings_genbot_knows(tmp_path: Path):
    environ = {
        "GENBOT_DETOXIFY": "off",
        "GENBOT_SERVICE_URL": "http://elsewhere:1",  # local mode always runs its own service
        "GENBOT_CONFIG": "genbot.toml",
        "GENBOT_HOME": "relative",
        "PATH": "/usr/bin",
    }
    guild = localmode.local_guild()
    env = child_env(BotSettings(home=tmp_path), environ, guild)
    assert env["GENBOT_HOME"] == str(tmp_path) and env["GENBOT_DEV_GUILD_ID"] == str(guild.id)
    assert env["GENBOT_DETOXIFY"] == "off" and "GENBOT_SERVICE_URL" not in env
    assert "PATH" not in env  # the rest of the environment comes from BotProcess
    assert {k for k in env if k.startswith("GENBOT_")} <= set(known_variables())


def test_a_busy_port_is_one_clear_line_and_status_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("GENBOT_HOME", str(tmp_path))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        status = cli_main(["run", "--local", "--tiny", "--port", str(port)])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err == (
        f"genbot: error: cannot listen on 127.0.0.1:{port} (address already in use); "
        "choose another port with --port N"
    )
    assert not (tmp_path / "local-mode.log").exists()  # no bot was started
