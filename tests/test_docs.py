"""The README documents every CLI command and setting; .env.example lists every variable."""

import re
from pathlib import Path

from bot.cli import build_parser
from bot.settings import known_variables

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def cli_commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_cli_subcommand_is_in_the_readme():
    missing = [c for c in cli_commands() if f"genbot {c}" not in README]
    assert not missing, f"README lacks: {missing}"


def test_every_setting_is_in_the_readme():
    missing = [name for name in known_variables() if f"`{name}`" not in README]
    assert not missing, f"README lacks: {missing}"


def test_env_example_lists_every_variable_and_nothing_else():
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    assert listed == set(known_variables())


def test_readme_names_the_install_and_test_commands_that_ci_runs():
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    for command in ("./install.sh", ".venv/bin/python -m pytest"):
        assert command in README and command in ci


def test_every_moderation_label_is_in_the_readme_table():
    from moderation.labels import LABELS

    missing = [label for label in LABELS if f"| `{label}` |" not in README]
    assert not missing, f"README lacks: {missing}"
