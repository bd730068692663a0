"""Self-describing checkpoints: `{family, config, state_dict, step, format_version, meta}`.

Saved with torch.save and loaded with `weights_only=True`, so a checkpoint file can never run
code on load. `meta` holds provenance: seeds, dataset hash, git commit, wall time, metrics.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read or is not what the caller expects."""


def save(
    path: Path,
    *,
    family: str,
    config: Any,
    state_dict: dict,
    step: int,
    meta: dict | None = None,
    optimizer_state: dict | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename); return its path."""
    import torch

    blob = {
        "family": family,
        "config": dataclasses.asdict(config),
        "state_dict": state_dict,
        "step": step,
        "format_version": FORMAT_VERSION,
        "meta": meta or {},
    }
    if optimizer_state is not None:
        blob["optimizer_state"] = optimizer_state
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(blob, tmp)
    os.replace(tmp, path)
    return path


def load(path: Path, family: str | None = None, map_location: str = "cpu") -> dict:
    """Return a checkpoint's dict; check its format and (when given) its family."""
    import torch

    if not Path(path).is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        blob = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, not a pickle trace
        raise CheckpointError(f"{path}: not a readable genbot checkpoint ({exc})") from None
    if not isinstance(blob, dict) or blob.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a genbot checkpoint of format {FORMAT_VERSION}")
    if family is not None and blob["family"] != family:
        raise CheckpointError(f"{path}: holds a {blob['family']} model, not {family}")
    return blob


def config_from(blob: dict, config_class: type) -> Any:
    """Return the family's Config rebuilt from a checkpoint (lists back to tuples)."""
    fields = {f.name for f in dataclasses.fields(config_class)}
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in blob["config"].items()}
    return config_class(**{k: v for k, v in values.items() if k in fields})


def git_commit(repo: Path | None = None) -> str | None:
    """Return the current git commit of the repository, when there is one."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo or Path(__file__).resolve().parent.parent,
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None
