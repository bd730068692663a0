"""The scorer stack a process screens with, chosen from its settings."""

from __future__ import annotations

import logging
from typing import Any

from moderation.scorers.images import ImageChecker
from moderation.scorers.lexical import LexicalScorer
from moderation.scorers.toxicity import DetoxifyScorer, weights_path
from moderation.screen import Screener

log = logging.getLogger(__name__)


def detoxify_wanted(mode: str, model_type: str, checkpoint: str | None) -> tuple[bool, str]:
    """Return whether to use Detoxify under `mode` (auto|on|off), and why."""
    if mode == "off":
        return False, "Detoxify is off (GENBOT_DETOXIFY=off)"
    if mode == "on":
        return True, "Detoxify is required (GENBOT_DETOXIFY=on)"
    path = weights_path(model_type, checkpoint)
    if path.is_file():
        return True, f"Detoxify weights found at {path}"
    return False, f"no Detoxify weights at {path}: screening with lexical + rules + PII"


def build_screener(settings: Any) -> Screener:
    """Return a loaded Screener for ServiceSettings-like `settings` (lexical + rules + PII, and
    Detoxify per `settings.detoxify`). A scorer that fails to load makes outputs fail closed."""
    learned: list[Any] = [LexicalScorer()]
    use, why = detoxify_wanted(
        settings.detoxify, settings.detoxify_model, settings.detoxify_checkpoint
    )
    log.info(why)
    if use:
        learned.append(
            DetoxifyScorer(
                model_type=settings.detoxify_model,
                checkpoint=settings.detoxify_checkpoint,
                config_path=settings.detoxify_config,
                device=settings.device,
                precision=settings.detoxify_precision,
            )
        )
    images = ImageChecker(nsfw_model=settings.nsfw_model, device=settings.device)
    screener = Screener(learned, images=images)
    screener.load()
    return screener
