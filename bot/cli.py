"""The `genbot` command line: one subcommand per job, each a small function."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, replace
from importlib import metadata
from pathlib import Path

from bot import doctor, logs
from bot.settings import (
    BotSettings,
    ServiceSettings,
    SettingsError,
    merged_environment,
    secret_values,
)
from data.checkpoints import CheckpointError
from data.emoji import DatasetError
from data.fortunes import CorpusError
from data.store import StoreError

log = logging.getLogger(__name__)
STATUS_MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
# `genbot audit generation --family F`: the module whose run_audit audits family F.
AUDITS = {
    "gan": "generators.audit_images",
    "text": "generators.audit_text",
    "music": "generators.audit_music",
}


def prepare_home(env: Mapping[str, str], home: Path) -> Path:
    """Return GENBOT_HOME as an absolute folder; create only the default one."""
    if home.exists() and not home.is_dir():
        raise SettingsError(f"GENBOT_HOME: {str(home)!r} is not a folder")
    if not home.exists():
        if "GENBOT_HOME" in env:
            raise SettingsError(
                f"GENBOT_HOME: folder {str(home)!r} does not exist "
                "(create it, or unset GENBOT_HOME to use ./var)"
            )
        home.mkdir(parents=True)
    return home.resolve()


def cmd_doctor(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Print the install's checks; exit 1 when one fails."""
    log.debug("bot settings: %r", bot)
    log.debug("service settings: %r", service)
    checks = doctor.run_checks(bot, service)
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(f"{STATUS_MARK[c.status]}  {c.name:<{width}}  {c.detail}")
    return 1 if any(c.status == "fail" for c in checks) else 0


def read_texts(texts: list[str]) -> list[str]:
    """Return the texts to moderate: the arguments, or one per line of stdin for `-`."""
    if texts != ["-"]:
        return texts
    # Undecodable bytes become U+FFFD instead of an exception: every line gets a verdict.
    raw = sys.stdin.buffer.read().decode("utf-8", errors="replace")
    return raw.splitlines()


def cmd_moderate(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Screen texts with the configured scorers and print one verdict per text."""
    from moderation.policy import policy_for
    from moderation.stack import build_screener

    texts = read_texts(args.texts)
    policy = policy_for(args.policy, shadow=args.shadow, age_restricted=args.age_restricted)
    verdicts = build_screener(service).screen(texts, args.direction, policy)
    for index, (text, verdict) in enumerate(zip(texts, verdicts, strict=True)):
        if args.json:
            record = {"index": index, **verdict.to_json(), "explanation": verdict.explain(text)}
            print(json.dumps(record, ensure_ascii=False))
        else:
            shown = text if len(text) <= 60 else text[:57] + "..."
            print(f"{verdict.action:<5}  {shown}\n       {verdict.explain(text)}")
    return 0


def cmd_verify(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Say whether a file came from this install, and its job; exit 0 yes, 1 no, 2 unreadable."""
    from bot.provenance import verify_file
    from moderation.verification import VerifyError

    try:
        finding, store = verify_file(Path(args.file), bot.home)
    except VerifyError as exc:
        print(f"genbot: error: {args.file}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"file": args.file, "store": store and str(store), **finding.to_json()}))
    else:
        print(finding.summary(str(store) if store else None))
        print("\n".join(f"  {line}" for line in finding.evidence))
    return 0 if finding.from_install else 1


def cmd_audit(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Run a bias audit; write JSON + PNG under GENBOT_HOME/reports and print a summary."""
    out = Path(args.out) if args.out else bot.home / "reports"
    out.mkdir(parents=True, exist_ok=True)
    if args.target == "generation" and args.family is None:
        print(
            "genbot: error: `genbot audit generation` needs --family gan|text|music",
            file=sys.stderr,
        )
        return 2
    if args.target == "generation":
        import importlib

        module = importlib.import_module(AUDITS[args.family])
        options = {"checkpoint": args.checkpoint, "seed": args.seed, "dry_run": args.dry_run}
        lines = module.run_audit(service, out, args.samples, **options)
    elif args.target == "data":
        from data.representation import run_audit

        lines = run_audit(bot.home, out)
    else:
        from moderation.audit_report import run_moderation_audit

        lines = run_moderation_audit(service, args.policy, args.direction, out)
    for line in lines:
        print(line)
    return 0


def cmd_export_community(args: argparse.Namespace, bot: BotSettings) -> int:
    """Export the consented, approved community items as JSONL with a datasheet."""
    from bot.community_export import export
    from data import install_secret
    from data.store import Store

    folder = Path(args.out) if args.out else bot.home / "datasets" / "community"
    store = Store(bot.home / "genbot.db")
    try:
        summary = export(
            store,
            folder,
            install_secret.load(bot.home),
            guild=args.guild,
            min_rating=args.min_rating,
        )
    finally:
        store.close()
    families = ", ".join(f"{k} {v}" for k, v in summary.datasheet["by_family"].items())
    print(f"{summary.items} items ({families or 'none'}) in {folder}")
    print(
        f"left out: {summary.dropped_pii} with personal information, "
        f"{summary.below_rating} under the minimum rating"
    )
    return 0


def cmd_data(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Build a dataset under GENBOT_HOME/datasets, or export the community dataset."""
    if args.action == "export-community":
        return cmd_export_community(args, bot)
    if args.dataset is None:
        print(
            "genbot: error: `genbot data build` needs a dataset: images, music or text",
            file=sys.stderr,
        )
        return 2
    if args.dataset == "text":
        from data import fortunes

        files = fortunes.build(bot.home)
        stats = json.loads(files["stats"].read_text(encoding="utf-8"))
        print(f"{stats['quotes']} quotes ({dict(stats['by_split'])}) in {files['quotes']}")
        return 0
    if args.dataset == "music":
        from data import folk

        files = folk.build(bot.home)
        stats = json.loads(files["stats"].read_text(encoding="utf-8"))
        print(f"{stats['tunes']} tunes ({dict(stats['by_split'])}) in {files['tunes']}")
        print(f"stats: {files['stats']}")
        return 0
    from data import emoji
    from generators.text_encoder import shared_encoder
    from generators.train import caption_embeddings

    files = emoji.build(bot.home, progress=not args.no_progress)
    _, index = emoji.load(bot.home, 64)
    captions = [e["caption"] for e in index]
    caption_embeddings(bot.home, "emoji", captions, shared_encoder().encode)
    for name, path in files.items():
        print(f"{name:<11} {path}")
    print(f"{len(captions)} images with captions; caption embeddings cached beside them")
    return 0


def cmd_train(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Train a model family (arguments are those of generators.train)."""
    from generators import train

    return train.main(args.rest, home=bot.home, settings=service)


def cmd_eval(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Evaluate a checkpoint (arguments are those of generators.evaluate)."""
    from generators import evaluate

    return evaluate.main(args.rest, home=bot.home)


def cmd_serve(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Run the generation service (arguments are those of generators.service.serve)."""
    from generators.service import serve

    try:
        return serve.main(args.rest, service)
    except serve.ServeError as exc:
        print(f"genbot: error: {exc}", file=sys.stderr)
        return 2


def cmd_run(args: argparse.Namespace, bot: BotSettings, service: ServiceSettings) -> int:
    """Run the Discord bot (extra arguments go to the local service child, if one starts);
    with --local, against a Discord server and web page on this machine instead."""
    if "--local" in args.rest:
        from bot import localmode

        return localmode.main(bot, args.rest)
    from bot import run

    return run.main(bot, args.rest)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="genbot", description="Create together with generative AI on Discord, safely."
    )
    version = f"genbot {metadata.version('genbot')}"
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("doctor", help="check this install: Python, torch, store, models, service")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(handler=cmd_doctor)

    p = sub.add_parser("moderate", help="screen texts as the bot would: allow, flag or block")
    p.add_argument("texts", nargs="+", metavar="TEXT", help="texts, or - for one per stdin line")
    p.add_argument("--policy", default="pg13", choices=["kids", "pg13", "adult"])
    p.add_argument("--direction", default="prompt", choices=["prompt", "output"])
    p.add_argument("--json", action="store_true", help="one JSON object per text, in order")
    p.add_argument("--shadow", action="store_true", help="shadow mode: report, never enforce")
    p.add_argument("--age-restricted", action="store_true", help="the channel is age-restricted")
    p.set_defaults(handler=cmd_moderate)

    p = sub.add_parser("verify", help="did this install make a file? (image, WAV, MIDI or ABC)")
    p.add_argument("file", metavar="FILE", help="the file to check")
    p.add_argument("--json", action="store_true", help="print the finding as JSON")
    p.set_defaults(handler=cmd_verify)

    p = sub.add_parser("audit", help="bias audits: writes JSON + PNG under GENBOT_HOME/reports")
    p.add_argument(
        "target",
        choices=["moderation", "generation", "data"],
        help="moderation: the moderator; generation: a generator (--family); data: training sets",
    )
    p.add_argument("--policy", default="pg13", choices=["kids", "pg13", "adult"])
    p.add_argument("--direction", default="prompt", choices=["prompt", "output"])
    p.add_argument("--family", choices=list(AUDITS), help="generation: gan, text or music")
    p.add_argument("--samples", type=int, help="generation: samples per prompt")
    p.add_argument("--checkpoint", help="generation: the model (default: the shipped one)")
    p.add_argument("--seed", type=int, default=0, help="generation: the first sampling seed")
    p.add_argument("--dry-run", action="store_true", help="generation: a tiny untrained model")
    p.add_argument("--out", help="folder for the report (default GENBOT_HOME/reports)")
    p.set_defaults(handler=cmd_audit)

    p = sub.add_parser(
        "data",
        help="build training datasets under GENBOT_HOME/datasets, or export the community's",
    )
    p.add_argument("action", choices=["build", "export-community"])
    p.add_argument(
        "dataset",
        nargs="?",
        choices=["images", "music", "text"],
        help="for build: images (Noto emoji), music (folk tunes), text (Debian fortunes)",
    )
    p.add_argument(
        "--out", help="export-community: folder (default GENBOT_HOME/datasets/community)"
    )
    p.add_argument("--guild", type=int, help="export-community: only this server's items")
    p.add_argument("--min-rating", type=int, help="export-community: keep items rated at least N")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(handler=cmd_data)

    p = sub.add_parser(
        "train", help="train a model family (see `genbot train gan --help`)", add_help=False
    )
    p.set_defaults(passthrough=True)
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser(
        "eval", help="evaluate a checkpoint (see `genbot eval gan --help`)", add_help=False
    )
    p.set_defaults(passthrough=True)
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser(
        "run",
        help="run the Discord bot (--local: on this machine with a web page, no token; "
        "other arguments go to the local service, e.g. --tiny)",
        add_help=False,
    )
    p.set_defaults(passthrough=True)
    p.set_defaults(handler=cmd_run)

    p = sub.add_parser(
        "serve", help="run the generation service (see `genbot serve --help`)", add_help=False
    )
    p.set_defaults(passthrough=True)
    p.set_defaults(handler=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the genbot command line; return the exit status."""
    parser = build_parser()
    # train, eval and serve hand their arguments on to their own parsers.
    args, rest = parser.parse_known_args(argv)
    if rest and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    args.rest = rest
    env = dict(os.environ if environ is None else environ)
    handler: Callable[..., int] = args.handler
    try:
        merged = merged_environment(env, Path.cwd())
        bot, service = BotSettings.from_env(merged), ServiceSettings.from_env(merged)
        home = prepare_home(merged, bot.home)
        bot, service = replace(bot, home=home), replace(service, home=home)
        logs.configure(bot.log_level, secret_values(env))
        return handler(args, bot, service)
    except (SettingsError, StoreError, CheckpointError, DatasetError, CorpusError) as exc:
        print(logs.redact(f"genbot: error: {exc}", secret_values(env)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genbot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
