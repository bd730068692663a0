"""Process settings: frozen dataclasses built by pure `from_env(mapping)` functions.

Every setting is one environment variable (`GENBOT_*`, plus `DISCORD_TOKEN`). An optional
`genbot.toml` supplies the non-secret ones under the same names in lower case without the
prefix (`home = "var"`, `port = 8765`); the environment wins over the file. Secrets come
only from the environment and are wrapped in `Secret`, whose repr never shows the value.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

PREFIX = "GENBOT_"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_HOME = "var"
DEFAULT_PORT = 8765


class SettingsError(ValueError):
    """A setting is unknown or malformed; the message names the variable or file."""


class Secret:
    """A string that never shows itself in repr, str or logs; `reveal()` returns it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _parse_str(raw: str) -> str:
    return raw.strip()


def _parse_optional_str(raw: str) -> str | None:
    return raw.strip() or None


def _parse_secret(raw: str) -> Secret | None:
    return Secret(raw.strip()) if raw.strip() else None


def _parse_port(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 65535:
        raise ValueError("expected a port number 1-65535")
    return value


def _parse_snowflake(raw: str) -> int | None:
    if not raw.strip():
        return None
    value = int(raw)
    if value <= 0:
        raise ValueError("expected a positive Discord id")
    return value


def _parse_log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _parse_urls(raw: str) -> tuple[str, ...]:
    urls = tuple(u.strip().rstrip("/") for u in raw.split(",") if u.strip())
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
    return urls


def _parse_days(raw: str) -> float:
    try:
        days = float(raw)
    except ValueError:
        raise ValueError(f"expected a number of days, got {raw!r}") from None
    if not 1 <= days <= 3650:
        raise ValueError(f"retention must be between 1 and 3650 days, got {raw!r}")
    return days


def _parse_threads(raw: str) -> int:
    """Return a thread count; 0 stands for auto."""
    if raw.strip().lower() == "auto":
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"expected auto or a number of threads, got {raw!r}") from None
    if not 1 <= value <= 256:
        raise ValueError(f"threads must be between 1 and 256, got {raw!r}")
    return value


def _parse_device(raw: str) -> str:
    device = raw.strip().lower()
    if device in ("auto", "cpu", "cuda", "mps") or (
        device.startswith("cuda:") and device[5:].isdigit()
    ):
        return device
    raise ValueError("expected auto, cpu, cuda, cuda:N or mps")


DETOXIFY_MODELS = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")


def _one_of(*choices: str) -> Callable[[str], str]:
    """Return a parser that accepts one of `choices`, in any case."""

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return value

    return parse


_parse_detoxify_model = _one_of(*DETOXIFY_MODELS)
_parse_detoxify_mode = _one_of("auto", "on", "off")
_parse_precision = _one_of("auto", "fp32", "bf16")


def _parse_families(raw: str) -> tuple[str, ...]:
    return tuple(f.strip() for f in raw.split(",") if f.strip())


def setting(
    env: str,
    parse: Callable[[str], Any],
    default: Any,
    doc: str,
    secret: bool = False,
) -> Any:
    """Declare a dataclass field read from environment variable `env`."""
    meta = {"env": env, "parse": parse, "doc": doc, "secret": secret}
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class BotSettings:
    """Settings of the bot process (`genbot run`)."""

    discord_token: Secret | None = setting(
        "DISCORD_TOKEN", _parse_secret, None, "Bot token from the Discord developer portal.", True
    )
    service_urls: tuple[str, ...] = setting(
        "GENBOT_SERVICE_URL",
        _parse_urls,
        (),
        "Generation service URL(s), comma-separated; empty starts a local service child.",
    )
    service_token: Secret | None = setting(
        "GENBOT_SERVICE_TOKEN", _parse_secret, None, "Bearer token shared with the service.", True
    )
    home: Path = setting(
        "GENBOT_HOME", Path, Path(DEFAULT_HOME), "Folder for the database, caches and datasets."
    )
    dev_guild_id: int | None = setting(
        "GENBOT_DEV_GUILD_ID", _parse_snowflake, None, "Sync slash commands to this guild only."
    )
    log_level: str = setting("GENBOT_LOG_LEVEL", _parse_log_level, "INFO", "Logging level.")
    retention_days: float = setting(
        "GENBOT_RETENTION_DAYS",
        _parse_days,
        30.0,
        "Days prompts, results and their verdicts are kept; a pseudonymous decision log stays.",
    )

    @classmethod
    def from_env(cls, mapping: Mapping[str, str]) -> BotSettings:
        """Return bot settings read from `mapping` (an environment); raise SettingsError."""
        return _build(cls, mapping)


@dataclass(frozen=True)
class ServiceSettings:
    """Settings of the generation service (`genbot serve`)."""

    host: str = setting("GENBOT_HOST", _parse_str, "127.0.0.1", "Address the service binds.")
    port: int = setting("GENBOT_PORT", _parse_port, DEFAULT_PORT, "Port the service binds.")
    device: str = setting(
        "GENBOT_DEVICE", _parse_device, "auto", "Torch device: auto, cpu, cuda, cuda:N or mps."
    )
    families: tuple[str, ...] = setting(
        "GENBOT_FAMILIES", _parse_families, (), "Model families to load; empty loads all."
    )
    torch_threads: int = setting(
        "GENBOT_TORCH_THREADS",
        _parse_threads,
        0,
        "Torch's CPU threads: auto (one fewer than the cores, at least 1) or a number.",
    )
    service_token: Secret | None = setting(
        "GENBOT_SERVICE_TOKEN", _parse_secret, None, "Bearer token required on /v1 routes.", True
    )
    home: Path = setting(
        "GENBOT_HOME", Path, Path(DEFAULT_HOME), "Folder for the database, caches and datasets."
    )
    detoxify: str = setting(
        "GENBOT_DETOXIFY",
        _parse_detoxify_mode,
        "auto",
        "Use Detoxify: auto (when its weights are on this machine), on (required), off.",
    )
    detoxify_model: str = setting(
        "GENBOT_DETOXIFY_MODEL",
        _parse_detoxify_model,
        "unbiased",
        "Detoxify model type: original, unbiased, multilingual, original-small, unbiased-small.",
    )
    detoxify_checkpoint: str | None = setting(
        "GENBOT_DETOXIFY_CHECKPOINT",
        _parse_optional_str,
        None,
        "Local Detoxify checkpoint file, for machines that cannot download it.",
    )
    detoxify_config: str | None = setting(
        "GENBOT_DETOXIFY_CONFIG",
        _parse_optional_str,
        None,
        "Local Hugging Face config + tokenizer folder that goes with that checkpoint.",
    )
    detoxify_precision: str = setting(
        "GENBOT_DETOXIFY_PRECISION",
        _parse_precision,
        "auto",
        "Detoxify's arithmetic: auto (bf16 on a GPU or a CPU with native bf16, else fp32), "
        "fp32, bf16.",
    )
    nsfw_model: str | None = setting(
        "GENBOT_NSFW_MODEL",
        _parse_optional_str,
        None,
        "Image-classification model (local folder or hub id) with an nsfw class; empty: none.",
    )
    log_level: str = setting("GENBOT_LOG_LEVEL", _parse_log_level, "INFO", "Logging level.")

    @classmethod
    def from_env(cls, mapping: Mapping[str, str]) -> ServiceSettings:
        """Return service settings read from `mapping` (an environment); raise SettingsError."""
        return _build(cls, mapping)


SETTINGS_CLASSES: tuple[type, ...] = (BotSettings, ServiceSettings)
# Read by the CLI rather than by a settings class: where genbot.toml lives.
CONFIG_FILE_ENV = "GENBOT_CONFIG"


def known_variables() -> dict[str, dict[str, Any]]:
    """Return every settings variable name mapped to its field metadata."""
    known: dict[str, dict[str, Any]] = {CONFIG_FILE_ENV: {"doc": "Path of genbot.toml."}}
    for cls in SETTINGS_CLASSES:
        for f in fields(cls):
            known[f.metadata["env"]] = dict(f.metadata)
    return known


def secret_values(mapping: Mapping[str, str]) -> list[str]:
    """Return the values of the secret variables in `mapping`, parsed or not."""
    secret_names = {name for name, meta in known_variables().items() if meta.get("secret")}
    return [v.strip() for k, v in mapping.items() if k in secret_names and v.strip()]


def check_unknown(mapping: Mapping[str, str]) -> None:
    """Raise SettingsError for a `GENBOT_*` variable that no setting declares."""
    known = known_variables()
    for name in sorted(mapping):
        if name.startswith(PREFIX) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(f"{name}: unknown setting{hint}")


def _build(cls: type, mapping: Mapping[str, str]) -> Any:
    check_unknown(mapping)
    values = {}
    for f in fields(cls):
        env = f.metadata["env"]
        if env not in mapping:
            continue
        raw = mapping[env]
        try:
            values[f.name] = f.metadata["parse"](raw)
        except ValueError as exc:
            shown = "***" if f.metadata["secret"] else repr(raw)
            reason = str(exc) if not str(exc).startswith("invalid literal") else "not a number"
            raise SettingsError(f"{env}: {reason}, got {shown}") from None
    return cls(**values)


def read_config_file(path: Path) -> dict[str, str]:
    """Return the settings in a genbot.toml file as environment-style names and strings."""
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read config file ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from None
    known = known_variables()
    out: dict[str, str] = {}
    for key, value in table.items():
        env = "DISCORD_TOKEN" if key == "discord_token" else PREFIX + key.upper()
        if env not in known or env == CONFIG_FILE_ENV:
            raise SettingsError(f"{path}: unknown setting {key!r}")
        if known[env]["secret"]:
            raise SettingsError(f"{path}: {key!r} is a secret; set {env} in the environment")
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, dict | bool):
            raise SettingsError(f"{path}: {key!r} must be a string, number or list")
        out[env] = str(value)
    return out


def merged_environment(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """Return `environ` laid over genbot.toml (from GENBOT_CONFIG or `cwd`), if present."""
    explicit = environ.get(CONFIG_FILE_ENV)
    path = Path(explicit) if explicit else cwd / "genbot.toml"
    if explicit and not path.is_file():
        raise SettingsError(f"{CONFIG_FILE_ENV}: no such file {str(path)!r}")
    merged = read_config_file(path) if path.is_file() else {}
    merged.update(environ)
    return merged
