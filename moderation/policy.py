"""Per-guild policy and the one decision function: scores in, verdict out. Pure; no models.

A policy holds, per direction (prompt or output) and per label, a flag and a block threshold.
Presets: `kids`, `pg13` (default) and `adult` (only in age-restricted channels; elsewhere pg13).
`decide` also applies the counterfactual identity check: for the labels a learned scorer can
move merely because an identity term is present, the score that counts is the score of the same
text with its identity terms swapped for neutral words. An identity term alone can then neither
make a statement toxic ("I am a gay Muslim woman") nor excuse one; targeted attacks on a group
are caught by rules, which the swap does not touch. An output that repeats private training data
(`memorised`) is held in every preset, whatever the overrides or shadow mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from moderation.labels import LABELS
from moderation.verdict import Reason, Verdict

DIRECTIONS = ("prompt", "output")
NEVER = 1.01  # a threshold no score reaches
# Labels whose learned-scorer scores are checked against the identity-swapped text.
IDENTITY_SENSITIVE = frozenset(
    {"toxicity", "severe_toxicity", "obscene", "insult", "identity_attack"}
)
# Scorers whose scores are learned (and so may carry identity bias); rule hits are deliberate.
LEARNED_SOURCES = frozenset({"lexical", "detoxify"})
# Outputs repeating private training data are held in every preset, whatever a guild's
# overrides or shadow mode say: the privacy of the people who shared it is not a guild's to waive.
ALWAYS_HELD = frozenset({"memorised"})


@dataclass(frozen=True)
class Thresholds:
    """Flag at or above `flag`, block at or above `block`."""

    flag: float
    block: float

    def __post_init__(self) -> None:
        if not (0.0 <= self.flag <= self.block <= NEVER):
            raise ValueError(f"thresholds need 0 <= flag <= block <= 1, got {self}")


def _table(rows: dict[str, tuple[float, float]]) -> dict[str, Thresholds]:
    return {label: Thresholds(*pair) for label, pair in rows.items()}


_PG13_PROMPT = {
    "toxicity": (0.80, 0.97), "severe_toxicity": (0.50, 0.80), "obscene": (0.80, 0.97),
    "threat": (0.50, 0.85), "insult": (0.80, 0.97), "identity_attack": (0.50, 0.85),
    "sexual_explicit": (0.50, 0.80), "self_harm": (0.40, 0.90), "sexual_minors": (0.30, 0.50),
    "pii": (0.50, 0.95), "spam": (0.60, 0.85), "image_denylisted": (0.50, 0.90),
    "image_nsfw": (0.50, 0.80), "image_out_of_distribution": (0.80, NEVER),
}  # fmt: skip
# Outputs are posted for everyone to see: flag earlier, and never post personal data.
_PG13_OUTPUT = {
    **_PG13_PROMPT,
    "toxicity": (0.60, 0.90), "obscene": (0.60, 0.90), "insult": (0.60, 0.90),
    "pii": (0.50, 0.80), "memorised": (0.50, NEVER),
}  # fmt: skip
_KIDS = {
    label: (round(f * 0.6, 3), round(min(b, 1.0) * 0.75, 3))
    for label, (f, b) in _PG13_OUTPUT.items()
}
_KIDS["sexual_minors"] = (0.20, 0.30)
_KIDS["memorised"] = _PG13_OUTPUT["memorised"]
_ADULT_RELAXED = {"obscene": (0.95, NEVER), "sexual_explicit": (0.90, NEVER),
                  "toxicity": (0.90, 0.99), "insult": (0.90, 0.99)}  # fmt: skip


@dataclass(frozen=True)
class Policy:
    """Thresholds per direction and label, plus shadow mode (decide and log, never enforce)."""

    name: str
    prompt: Mapping[str, Thresholds]
    output: Mapping[str, Thresholds]
    shadow: bool = False
    counterfactual: bool = True
    notes: tuple[str, ...] = field(default=())

    def thresholds(self, direction: str, label: str) -> Thresholds:
        """Return the thresholds for `label` in `direction` (never flag an unknown label)."""
        table = self.prompt if direction == "prompt" else self.output
        return table.get(label, Thresholds(NEVER, NEVER))

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict that `policy_from_json` reads back."""

        def dump(table: Mapping[str, Thresholds]) -> dict[str, list[float]]:
            return {k: [v.flag, v.block] for k, v in sorted(table.items())}

        return {"name": self.name, "prompt": dump(self.prompt), "output": dump(self.output),
                "shadow": self.shadow, "counterfactual": self.counterfactual}  # fmt: skip


PRESETS: dict[str, Policy] = {
    "pg13": Policy("pg13", _table(_PG13_PROMPT), _table(_PG13_OUTPUT)),
    "kids": Policy("kids", _table(_KIDS), _table(_KIDS)),
    "adult": Policy(
        "adult",
        _table({**_PG13_PROMPT, **_ADULT_RELAXED}),
        _table({**_PG13_OUTPUT, **_ADULT_RELAXED}),
    ),
}
DEFAULT_PRESET = "pg13"


def _override_table(base: Mapping[str, Thresholds], overrides: Mapping, direction: str) -> dict:
    table = dict(base)
    for label, value in overrides.items():
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r} in policy overrides")
        pair = value.get(direction) if isinstance(value, Mapping) else value
        if pair is not None:
            table[label] = Thresholds(float(pair[0]), float(pair[1]))
    return table


def policy_for(
    preset: str = DEFAULT_PRESET,
    overrides: Mapping[str, Any] | None = None,
    shadow: bool = False,
    age_restricted: bool = False,
) -> Policy:
    """Return the policy for a guild's settings in one channel.

    `overrides` maps a label to [flag, block] (both directions) or to
    {"prompt": [flag, block], "output": [flag, block]}. `adult` applies only where
    `age_restricted` is true; elsewhere the guild gets pg13, and the policy notes why."""
    if preset not in PRESETS:
        raise ValueError(f"unknown policy preset {preset!r}; choose one of {', '.join(PRESETS)}")
    notes: tuple[str, ...] = ()
    if preset == "adult" and not age_restricted:
        preset, notes = DEFAULT_PRESET, ("adult preset applies only in age-restricted channels",)
    base = PRESETS[preset]
    overrides = overrides or {}
    return Policy(
        name=preset,
        prompt=_override_table(base.prompt, overrides, "prompt"),
        output=_override_table(base.output, overrides, "output"),
        shadow=shadow,
        notes=notes,
    )


def policy_from_json(data: object) -> Policy:
    """Return a policy from a preset name or from `Policy.to_json` output (None: default).

    Raises ValueError, with the reason, for anything else."""
    if data is None or isinstance(data, str):
        return policy_for(data or DEFAULT_PRESET)
    if not isinstance(data, Mapping):
        raise ValueError("must be a preset name or a policy object")
    name = data.get("name", DEFAULT_PRESET)
    base = policy_for(name if isinstance(name, str) and name in PRESETS else DEFAULT_PRESET)
    try:
        return Policy(
            name=str(name),
            prompt=_override_table(base.prompt, _mapping(data.get("prompt", {})), "prompt"),
            output=_override_table(base.output, _mapping(data.get("output", {})), "output"),
            shadow=bool(data.get("shadow", False)),
            counterfactual=bool(data.get("counterfactual", True)),
        )
    except (TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"thresholds must be [flag, block] numbers ({exc})") from None


def _mapping(value: object) -> Mapping:
    if not isinstance(value, Mapping):
        raise ValueError("prompt and output must map labels to [flag, block]")
    return value


@dataclass(frozen=True)
class Evidence:
    """One scorer's score for one label, with where it was found (original-text span)."""

    label: str
    score: float
    source: str
    span: tuple[int, int] | None = None


def effective_scores(
    evidence: list[Evidence], counterfactual: Mapping[str, float] | None
) -> tuple[list[Evidence], list[str]]:
    """Return the evidence with learned identity-sensitive scores replaced by the counterfactual
    scores, and a note per label where that changed the score by more than 0.01."""
    if not counterfactual:
        return evidence, []
    out, notes = [], []
    for item in evidence:
        swapped = counterfactual.get(item.label)
        sensitive = item.label in IDENTITY_SENSITIVE and item.source in LEARNED_SOURCES
        if sensitive and swapped is not None:
            if abs(swapped - item.score) > 0.01:
                notes.append(
                    f"counterfactual: {item.label} {item.score:.2f} -> {swapped:.2f} "
                    "with identity terms swapped for neutral words"
                )
            item = Evidence(item.label, swapped, item.source, item.span)
        out.append(item)
    return out, notes


def decide(
    evidence: list[Evidence],
    policy: Policy,
    direction: str,
    counterfactual: Mapping[str, float] | None = None,
    failed: tuple[str, ...] = (),
    model_versions: Mapping[str, str] | None = None,
    notes: tuple[str, ...] = (),
) -> Verdict:
    """Return the verdict for one item from its evidence under `policy`.

    `failed` names scorers that could not score it: an output is then held (fail closed)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be prompt or output, not {direction!r}")
    evidence, cf_notes = effective_scores(
        evidence, counterfactual if policy.counterfactual else None
    )
    notes = [*notes, *cf_notes]
    best: dict[str, Evidence] = {}
    for item in evidence:
        if item.label not in best or item.score > best[item.label].score:
            best[item.label] = item
    scores = {label: item.score for label, item in best.items()}
    reasons, action = [], "allow"
    for label, item in best.items():
        limits = policy.thresholds(direction, label)
        if label in ALWAYS_HELD and direction == "output":
            limits = Thresholds(*_PG13_OUTPUT[label])
        if item.score >= limits.block:
            action = "block"
        elif item.score >= limits.flag and action == "allow":
            action = "flag"
        if item.score >= limits.flag:
            severity = 2 if item.score >= limits.block else 1
            reasons.append((severity, item.score / max(limits.flag, 1e-6), item))
    reasons.sort(key=lambda r: (-r[0], -r[1]))
    notes += policy.notes
    if failed:
        notes.append(f"scorers failed: {', '.join(failed)}")
        if direction == "output" and action == "allow":
            action = "flag"
            reasons.append((1, 0.0, Evidence("scorer_failure", 1.0, ",".join(failed))))
    verdict_reasons = tuple(Reason(e.label, e.score, e.span, e.source) for _, _, e in reasons)
    shadow_action = None
    if policy.shadow:
        held = any(e.label in ALWAYS_HELD for _, _, e in reasons)
        shadow_action, action = action, "flag" if held else "allow"
    return Verdict(
        action=action,
        reasons=verdict_reasons,
        scores=scores,
        model_versions=dict(model_versions or {}),
        shadow_action=shadow_action,
        notes=tuple(notes),
    )
