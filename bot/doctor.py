"""`genbot doctor`: checks of this install, each one a line a person can act on."""

from __future__ import annotations

import platform
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bot.settings import BotSettings, ServiceSettings
from data.store import Store, StoreError
from moderation.scorers.toxicity import weights_path

PACKAGED_MODELS = Path(__file__).resolve().parent.parent / "data" / "models"
CHECKPOINT_SUFFIXES = (".pt", ".safetensors", ".ckpt", ".gguf")


@dataclass(frozen=True)
class Check:
    """One finding: `status` is ok, warn or fail."""

    name: str
    status: str
    detail: str


def check_python() -> Check:
    """Return the Python version in use (genbot needs 3.11 or newer)."""
    ok = sys.version_info >= (3, 11)
    detail = f"{platform.python_version()} ({sys.executable})"
    return Check("python", "ok" if ok else "fail", detail)


def check_genbot() -> Check:
    """Return the installed genbot version."""
    return Check("genbot", "ok", metadata.version("genbot"))


def check_torch(device_setting: str) -> Check:
    """Return torch's version and the device the service would use."""
    try:
        import torch
    except ImportError as exc:
        return Check("torch", "fail", f"not importable: {exc}")
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    else:
        device = "cpu (no CUDA device)"
    return Check("torch", "ok", f"{torch.__version__}; device {device}; setting {device_setting}")


def find_checkpoints(folders: list[Path]) -> list[Path]:
    """Return the model folders under `folders` that hold at least one checkpoint file."""
    found = []
    for folder in folders:
        if not folder.is_dir():
            continue
        for model_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
            if any(f.suffix in CHECKPOINT_SUFFIXES for f in model_dir.rglob("*")):
                found.append(model_dir)
    return found


def check_models(home: Path) -> Check:
    """Return which model checkpoints are present (shipped and under GENBOT_HOME/models)."""
    found = find_checkpoints([PACKAGED_MODELS, home / "models"])
    if not found:
        return Check("models", "warn", f"no checkpoints in {PACKAGED_MODELS} or {home / 'models'}")
    return Check("models", "ok", ", ".join(p.name for p in found))


def check_detoxify(settings: ServiceSettings) -> Check:
    """Return whether Detoxify's real weights are present (they cannot be downloaded offline)."""
    try:
        path = weights_path(settings.detoxify_model, settings.detoxify_checkpoint)
    except ImportError as exc:
        return Check("detoxify", "fail", f"detoxify not importable: {exc}")
    if path.is_file():
        from moderation.scorers.toxicity import choose_precision, native_bf16

        device = "cuda" if settings.device.startswith("cuda") else "cpu"
        precision = choose_precision(settings.detoxify_precision, device, native_bf16(device))
        return Check(
            "detoxify",
            "ok",
            f"{settings.detoxify_model} weights at {path}; runs in {precision} on {device} "
            f"(GENBOT_DETOXIFY_PRECISION={settings.detoxify_precision})",
        )
    return Check(
        "detoxify",
        "warn",
        f"no {settings.detoxify_model} weights at {path}; an online machine downloads them on "
        "first use, an offline one needs GENBOT_DETOXIFY_CHECKPOINT and GENBOT_DETOXIFY_CONFIG",
    )


def check_store(home: Path) -> Check:
    """Return whether the database opens, with the migrations it has."""
    path = home / "genbot.db"
    try:
        store = Store(path)
    except StoreError as exc:
        return Check("store", "fail", str(exc))
    try:
        return Check("store", "ok", f"{path} (migrations: {', '.join(store.schema())})")
    finally:
        store.close()


def check_service(urls: tuple[str, ...], timeout: float = 2.0) -> Check:
    """Return whether each configured service URL answers /healthz."""
    if not urls:
        return Check(
            "service",
            "ok",
            "none configured (GENBOT_SERVICE_URL); `genbot serve` runs one on loopback",
        )
    answers = []
    for url in urls:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as reply:
                answers.append(f"{url} answers ({reply.status})")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            answers.append(f"{url} does not answer ({reason})")
    up = sum("does not" not in a for a in answers)
    return Check("service", "ok" if up == len(urls) else "warn", "; ".join(answers))


def run_checks(bot: BotSettings, service: ServiceSettings) -> list[Check]:
    """Return every check of this install, in the order they are shown."""
    return [
        check_python(),
        check_genbot(),
        check_torch(service.device),
        check_store(bot.home),
        check_models(bot.home),
        check_detoxify(service),
        check_service(bot.service_urls),
    ]
