"""Settings are pure functions of a mapping; bad values fail with the variable's name."""

from pathlib import Path

import pytest

from bot.settings import (
    BotSettings,
    Secret,
    ServiceSettings,
    SettingsError,
    known_variables,
    merged_environment,
    secret_values,
)


def test_defaults_need_no_environment():
    bot, service = BotSettings.from_env({}), ServiceSettings.from_env({})
    assert bot.discord_token is None and bot.service_urls == ()
    assert bot.home == Path("var") and bot.log_level == "INFO"
    assert (service.host, service.port, service.device) == ("127.0.0.1", 8765, "auto")
    assert service.detoxify_model == "unbiased"


def test_values_are_parsed():
    env = {
        "DISCORD_TOKEN": "abc.def",
        "GENBOT_SERVICE_URL": "http://a:1/, https://b:2",
        "GENBOT_DEV_GUILD_ID": "123456789012345678",
        "GENBOT_LOG_LEVEL": "debug",
        "GENBOT_PORT": "9000",
        "GENBOT_DEVICE": "cuda:1",
        "GENBOT_FAMILIES": "gan, text",
    }
    bot, service = BotSettings.from_env(env), ServiceSettings.from_env(env)
    assert bot.discord_token == Secret("abc.def")
    assert bot.service_urls == ("http://a:1", "https://b:2")
    assert bot.dev_guild_id == 123456789012345678 and bot.log_level == "DEBUG"
    assert (service.port, service.device, service.families) == (9000, "cuda:1", ("gan", "text"))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GENBOT_PORT", "abc", "GENBOT_PORT: not a number, got 'abc'"),
        ("GENBOT_PORT", "70000", "GENBOT_PORT: expected a port number 1-65535"),
        ("GENBOT_LOG_LEVEL", "LOUD", "GENBOT_LOG_LEVEL: expected one of DEBUG"),
        ("GENBOT_SERVICE_URL", "ftp://x", "GENBOT_SERVICE_URL: 'ftp://x' is not an http(s) URL"),
        ("GENBOT_DEVICE", "tpu", "GENBOT_DEVICE: expected auto, cpu"),
        ("GENBOT_DEV_GUILD_ID", "-5", "GENBOT_DEV_GUILD_ID: expected a positive Discord id"),
        ("GENBOT_DETOXIFY_MODEL", "huge", "GENBOT_DETOXIFY_MODEL: expected one of original"),
        ("GENBOT_PORTT", "1", "GENBOT_PORTT: unknown setting (did you mean GENBOT_PORT?)"),
        ("GENBOT_WHATEVER", "1", "GENBOT_WHATEVER: unknown setting"),
    ],
)
def test_malformed_or_unknown_settings_name_the_variable(name, value, message):
    with pytest.raises(SettingsError) as info:
        BotSettings.from_env({name: value})
        ServiceSettings.from_env({name: value})
    assert str(info.value).startswith(message)


def test_secret_never_shows_itself():
    env = {"DISCORD_TOKEN": "s3cr3t-token", "GENBOT_SERVICE_TOKEN": "t0k", "GENBOT_PORT": "1"}
    bot = BotSettings.from_env(env)
    assert "s3cr3t" not in repr(bot) and "s3cr3t" not in str(bot.discord_token)
    assert bot.discord_token.reveal() == "s3cr3t-token"
    assert sorted(secret_values(env)) == ["s3cr3t-token", "t0k"]


def test_every_variable_is_documented_in_its_field():
    for name, meta in known_variables().items():
        assert meta["doc"].strip(), name
        assert name == "DISCORD_TOKEN" or name.startswith("GENBOT_")


def test_config_file_is_overridden_by_environment(tmp_path):
    (tmp_path / "genbot.toml").write_text('port = 9001\nlog_level = "warning"\nfamilies = ["gan"]')
    merged = merged_environment({"GENBOT_PORT": "9002"}, tmp_path)
    service = ServiceSettings.from_env(merged)
    assert (service.port, service.log_level, service.families) == (9002, "WARNING", ("gan",))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('discord_token = "x"', "'discord_token' is a secret; set DISCORD_TOKEN"),
        ("colour = 3", "unknown setting 'colour'"),
        ("port = [", "not valid TOML"),
        ("port = {a = 1}", "'port' must be a string, number or list"),
    ],
)
def test_bad_config_file_names_the_file(tmp_path, text, message):
    path = tmp_path / "genbot.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        merged_environment({}, tmp_path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)


def test_explicit_config_file_must_exist(tmp_path):
    with pytest.raises(SettingsError, match="GENBOT_CONFIG: no such file"):
        merged_environment({"GENBOT_CONFIG": str(tmp_path / "missing.toml")}, tmp_path)


@pytest.mark.parametrize(
    ("name", "raw", "value"),
    [
        ("GENBOT_DETOXIFY_PRECISION", " BF16 ", "bf16"),
        ("GENBOT_DETOXIFY", "Off", "off"),
    ],
)
def test_choices_are_read_in_any_case(name, raw, value):
    settings = ServiceSettings.from_env({name: raw})
    assert getattr(settings, name.removeprefix("GENBOT_").lower()) == value


def test_a_precision_outside_the_choices_is_refused_with_them():
    with pytest.raises(SettingsError, match="GENBOT_DETOXIFY_PRECISION: expected one of auto"):
        ServiceSettings.from_env({"GENBOT_DETOXIFY_PRECISION": "fp8"})
