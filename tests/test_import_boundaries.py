"""The bot, the store and the moderation modules import with torch & co. blocked."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BLOCKED = ("torch", "transformers", "detoxify")

PROBE = """
import importlib, json, pkgutil, sys
for name in {blocked!r}:
    sys.modules[name] = None  # any `import torch` now raises ImportError
import bot, moderation
# Every module of bot/ and moderation/: heavy libraries load only inside scorers' load().
names = [m.name for m in pkgutil.walk_packages(bot.__path__, "bot.")]
names += [m.name for m in pkgutil.walk_packages(moderation.__path__, "moderation.")]
names += ["data.store", "data.migrations", "data.emoji", "data.synthetic", "data.checkpoints"]
names += ["data.representation"]
names += ["generators.schema", "generators.registry"]
for name in names:
    importlib.import_module(name)
print(json.dumps(names))
"""


def run_probe(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )


def test_bot_store_and_moderation_import_without_torch():
    result = run_probe(PROBE.format(blocked=BLOCKED))
    assert result.returncode == 0, result.stderr
    imported = json.loads(result.stdout)
    assert {"bot.cli", "bot.service_client", "data.store", "moderation.screen"} <= set(imported)
    assert "moderation.scorers.toxicity" in imported


def test_starting_the_cli_does_not_load_torch_even_when_installed():
    code = "import sys, bot.cli; print(sorted(set(sys.modules) & {'torch', 'transformers'}))"
    result = run_probe(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
