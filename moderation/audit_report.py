"""`genbot audit moderation`: run the bias audit on the configured stack and two ablations."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moderation import bias_report
from moderation.audit import audit, chart
from moderation.policy import policy_for
from moderation.scorers.rules import RuleSet
from moderation.screen import Screener
from moderation.stack import build_screener

COLUMNS = (
    ("max_abs_fped_gap", "max|FPR_t-FPR|"),
    ("fpr_overall", "FPR"),
    ("identity_only_blocked", "id-only blocked"),
    ("recall_overall", "recall"),
    ("overall_auc", "AUC"),
    ("subgroup_auc_power_mean", "subgroup"),
    ("bpsn_auc_power_mean", "BPSN"),
    ("bnsp_auc_power_mean", "BNSP"),
)


def run_moderation_audit(settings: Any, preset: str, direction: str, out: Path) -> Iterator[str]:
    """Audit the configured stack, without the counterfactual check, and its learned scorers
    alone; write moderation-audit.json/.png to `out`; yield the lines of a summary table."""
    screener = build_screener(settings)
    policy = policy_for(preset, age_restricted=True)
    without_cf = dataclasses.replace(policy, counterfactual=False)
    learned_only = Screener(screener.learned, rules=RuleSet([]), images=screener.images)
    learned_only.failed_to_load, learned_only.lexicon = screener.failed_to_load, screener.lexicon
    variants = {
        "genbot": lambda texts: screener.screen(texts, direction, policy),
        "without counterfactual": lambda texts: screener.screen(texts, direction, without_cf),
        "learned scorers only": lambda texts: learned_only.screen(texts, direction, policy),
    }
    reports = {name: audit(run) for name, run in variants.items()}
    main = reports["genbot"]
    summary = {
        "policy": preset,
        "direction": direction,
        "model_versions": screener.model_versions,
        "variants": {n: {k: r[k] for k, _ in COLUMNS} for n, r in reports.items()},
        **main,
    }
    headline = [
        f"policy {preset}, {direction}s, {main['statements']} statements: max |FPR gap| "
        f"{main['max_abs_fped_gap']:.3f} (target 0.05), FPR {main['fpr_overall']:.3f}, recall "
        f"{main['recall_overall']:.3f}, identity-only blocked {main['identity_only_blocked']:.1%}",
        "worst terms by FPR gap: "
        + ", ".join(f"{r['term']} ({r['fped_gap']:+.3f})" for r in main["worst_terms"][:3]),
    ]
    bias_report.save(out, "moderation-audit", summary, "Moderation bias", headline)
    chart(main, out / "moderation-audit.png", baseline=reports["without counterfactual"])
    yield (
        f"{main['statements']} statements: {main['terms']} identity terms x "
        f"{main['templates']} templates; policy {preset}, {direction}s; "
        f"scorers {', '.join(screener.model_versions)}"
    )
    yield f"{'':<24}" + "".join(f"{title:>17}" for _, title in COLUMNS)
    for name, report in reports.items():
        cells = "".join(f"{report[key]:>17.3f}" for key, _ in COLUMNS)
        yield f"{name:<24}{cells}"
    worst = ", ".join(f"{r['term']} ({r['fped_gap']:+.3f})" for r in main["worst_terms"])
    yield f"worst terms by FPR gap: {worst}"
    yield f"wrote {out / 'moderation-audit.json'} and {out / 'moderation-audit.png'}"
