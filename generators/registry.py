"""The one registry of model families: name -> module. Adding a family = one file + one line.

Modules are named, not imported, so reading the registry never imports torch."""

from __future__ import annotations

import importlib
from types import ModuleType

FAMILIES: dict[str, str] = {
    "gan": "generators.models.gan",
    "vae": "generators.models.vae",
    "music": "generators.models.music_lm",
    # Training our own small GPT; serving any causal LM is generators/models/text_lm.py.
    "text": "generators.models.text_gpt",
}


def family(name: str) -> ModuleType:
    """Return the module of family `name` (imports torch)."""
    if name not in FAMILIES:
        raise KeyError(f"unknown model family {name!r}; known: {', '.join(FAMILIES)}")
    return importlib.import_module(FAMILIES[name])
