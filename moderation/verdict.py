"""The one verdict type for every screened item: allow, flag (hold for review) or block."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from moderation.labels import describe

ACTIONS = ("allow", "flag", "block")


@dataclass(frozen=True)
class Reason:
    """Why a verdict is not `allow`: a label, its score, and where in the text it was found."""

    label: str
    score: float
    span: tuple[int, int] | None = None
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        span = list(self.span) if self.span else None
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "span": span,
            "source": self.source,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reason:
        """Return the reason stored by `to_json`."""
        span = tuple(data["span"]) if data.get("span") else None
        return cls(data["label"], float(data["score"]), span, data.get("source", ""))  # type: ignore[arg-type]


@dataclass(frozen=True)
class Verdict:
    """The decision about one item. In shadow mode `action` is allow and `shadow_action` says
    what would have happened."""

    action: str
    reasons: tuple[Reason, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)
    model_versions: dict[str, str] = field(default_factory=dict)
    shadow_action: str | None = None
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    @property
    def top(self) -> Reason | None:
        """Return the reason that drove the verdict (the first one), if any."""
        return self.reasons[0] if self.reasons else None

    def explain(self, text: str | None = None) -> str:
        """Return the verdict in plain words, quoting the span of `text` that drove it."""
        if self.top is None:
            return "Nothing of concern was found."
        top = self.top
        verb = {"block": "was refused", "flag": "is held for a moderator's review"}.get(
            self.action, "was allowed"
        )
        line = f"This {verb} because it looks like {describe(top.label)} ({top.score:.0%} sure)"
        if text is not None and top.span is not None:
            start, end = top.span
            quoted = text[start:end].strip()
            if quoted:
                quoted = quoted if len(quoted) <= 80 else quoted[:77] + "..."
                line += f', in "{quoted}"'
        return line + "."

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-ready dict (what the service returns and the store keeps)."""
        return {
            "action": self.action,
            "reasons": [r.to_json() for r in self.reasons],
            "scores": {k: round(v, 4) for k, v in sorted(self.scores.items())},
            "model_versions": dict(sorted(self.model_versions.items())),
            "shadow_action": self.shadow_action,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Verdict:
        """Return the verdict stored by `to_json`."""
        return cls(
            action=data["action"],
            reasons=tuple(Reason.from_json(r) for r in data.get("reasons", [])),
            scores={k: float(v) for k, v in data.get("scores", {}).items()},
            model_versions=dict(data.get("model_versions", {})),
            shadow_action=data.get("shadow_action"),
            notes=tuple(data.get("notes", [])),
        )
