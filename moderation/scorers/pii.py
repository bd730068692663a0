"""Personal-information detectors: emails, phone numbers, IP addresses, payment cards (Luhn),
Discord tokens and invite links. Also `redact`, which the store uses before keeping a prompt."""

from __future__ import annotations

import ipaddress
import re

from moderation.scorers import Match

# kind -> (pattern, score). Scores say how sure a hit is personal information, not how bad it is.
PATTERNS: dict[str, tuple[re.Pattern, float]] = {
    "discord_token": (
        re.compile(r"\b[MNO][A-Za-z\d_-]{23,27}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,40}\b"),
        1.0,
    ),
    "email": (
        re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[a-z]{2,24}\b", re.I),
        0.9,
    ),
    "card": (re.compile(r"\b(?:\d[ -]?){12,18}\d\b"), 0.95),
    "phone": (
        re.compile(
            r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
            r"\d{3,4}[ .-]?\d{3,4}\b"
        ),
        0.8,
    ),
    "ipv4": (re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"), 0.7),
    "ipv6": (re.compile(r"(?<![\w:])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?![\w:])", re.I), 0.7),
    "invite": (
        re.compile(r"\b(?:discord(?:app)?\.(?:gg|com/invite|io|me)/)[\w-]{2,32}\b", re.I),
        0.6,
    ),
}  # fmt: skip


def luhn_ok(number: str) -> bool:
    """Return True when the digits of `number` pass the Luhn checksum."""
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _valid(kind: str, text: str) -> bool:
    if kind == "card":
        return luhn_ok(text)
    if kind == "ipv4":
        address = (
            ipaddress.IPv4Address(text) if all(int(p) < 256 for p in text.split(".")) else None
        )
        return address is not None and not address.is_loopback and not address.is_unspecified
    if kind == "ipv6":
        if not any(c.isdigit() for c in text):
            return False
        try:
            return not ipaddress.IPv6Address(text).is_loopback
        except ValueError:
            return False
    if kind == "phone":
        return 9 <= sum(c.isdigit() for c in text) <= 15
    return True


class PiiDetector:
    """Finds personal information; the label of every hit is `pii`."""

    name = "pii"
    version = "pii-1"
    window_words = None

    def load(self) -> None:
        """Nothing to load."""

    def find(self, text: str) -> list[Match]:
        """Return the PII hits in `text` (cards Luhn-checked, IPs parsed), earliest first."""
        hits: list[Match] = []
        taken: list[tuple[int, int]] = []
        for kind, (pattern, score) in PATTERNS.items():
            for m in pattern.finditer(text):
                overlaps = any(m.start() < b and a < m.end() for a, b in taken)
                if overlaps or not _valid(kind, m.group()):
                    continue
                taken.append(m.span())
                hits.append(Match("pii", score, m.start(), m.end(), f"pii:{kind}"))
        return sorted(hits, key=lambda h: h.start)

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Return per text {"pii": highest hit score}, or {} without hits."""
        return [
            {"pii": max(h.score for h in hits)} if (hits := self.find(t)) else {} for t in texts
        ]


def redact(text: str, detector: PiiDetector | None = None) -> str:
    """Return `text` with each piece of personal information replaced by [kind]."""
    out, last = [], 0
    for hit in (detector or PiiDetector()).find(text):
        out.append(text[last : hit.start])
        out.append(f"[{hit.source.split(':', 1)[1]}]")
        last = hit.end
    out.append(text[last:])
    return "".join(out)
