"""What `genbot verify FILE` does: read the file, check it with this install's marker, and look
its job up in this install's store. The checks themselves live in `moderation.verification`."""

from __future__ import annotations

import os
from pathlib import Path

from data import install_secret
from moderation.provenance import Marker
from moderation.verification import MAX_FILE_BYTES, Finding, VerifyError, check

STORE_FILE = "genbot.db"


def install_marker(home: Path) -> Marker | None:
    """Return this install's marker, or None when it has no secret yet (it has marked nothing;
    verifying a file must not create one)."""
    shared = os.environ.get(install_secret.ENV, "").strip()
    if shared or (home / install_secret.SECRET_FILE).exists():
        return Marker(install_secret.load(home))
    return None


def verify_file(path: Path, home: Path) -> tuple[Finding, Path | None]:
    """Return what the file at `path` says about where it came from, and the store its job
    was looked up in (None when this install has no store); raise VerifyError."""
    from data.store import Store, StoreError

    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)  # one byte more: `check` says it is too big
    except OSError as exc:
        raise VerifyError(exc.strerror or str(exc)) from None
    database = home / STORE_FILE
    if not database.is_file():
        return check(data, install_marker(home)), None
    try:
        store = Store(database)
    except StoreError as exc:
        raise VerifyError(str(exc)) from None
    try:
        return check(data, install_marker(home), store.job_for_mark), database
    finally:
        store.close()
