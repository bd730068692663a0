"""No secret set in the environment ever reaches the log output."""

import logging

from bot.logs import RedactingFormatter

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.secret-discord-token-value"
SERVICE_TOKEN = "service-token-0123456789"


def test_secrets_never_appear_in_cli_output(genbot, home):
    env = {
        "GENBOT_HOME": str(home),
        "DISCORD_TOKEN": TOKEN,
        "GENBOT_SERVICE_TOKEN": SERVICE_TOKEN,
        "GENBOT_LOG_LEVEL": "DEBUG",
    }
    result = genbot("doctor", env=env)
    assert result.returncode == 0, result.stderr
    assert "bot settings: BotSettings(" in result.stderr  # the settings were logged ...
    for secret in (TOKEN, SERVICE_TOKEN, "secret-discord", "0123456789"):
        assert secret not in result.stdout + result.stderr  # ... without their secrets


def test_malformed_value_error_hides_the_secret_value(genbot, home):
    env = {"GENBOT_HOME": str(home), "DISCORD_TOKEN": TOKEN, "GENBOT_PORT": TOKEN}
    result = genbot("doctor", env=env)
    assert result.returncode == 2 and TOKEN not in result.stderr


def test_formatter_redacts_messages_arguments_and_tracebacks():
    formatter = RedactingFormatter([TOKEN, "short"])
    try:
        raise RuntimeError(f"login failed with {TOKEN}")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "token=%s and %s", (TOKEN, "short"), sys.exc_info()
        )
    line = formatter.format(record)
    assert TOKEN not in line and "short" not in line
    assert line.count("***") >= 3 and "RuntimeError" in line
