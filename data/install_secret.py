"""The per-install secret: salts the pseudonyms of people in audit tables and exports, and keys
the provenance marks, so that neither can be linked or forged outside this install.

It lives in `GENBOT_HOME/install-secret` (created on first use, readable by its owner only);
`GENBOT_INSTALL_SECRET` overrides it, so that service replicas on other machines share one.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

SECRET_FILE = "install-secret"
ENV = "GENBOT_INSTALL_SECRET"


def load(home: Path, environ: Mapping[str, str] | None = None) -> bytes:
    """Return this install's secret, creating it under `home` the first time."""
    environ = os.environ if environ is None else environ
    if environ.get(ENV, "").strip():
        return environ[ENV].strip().encode()
    path = Path(home) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when two processes start at once, exactly one writes the secret.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


def pseudonym(secret: bytes, kind: str, value: object) -> str:
    """Return a stable 16-hex-digit salted hash of `value` (a user, guild or job id)."""
    message = f"{kind}:{value}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:16]
