"""The genbot store: every SQL statement of the project lives in this package (schema in
`data/migrations.py`), one module per group of tables.

`Store` is synchronous and owns one SQLite connection in WAL mode. `AsyncStore` runs every
call of one `Store` on one dedicated thread, so the bot's event loop never blocks on disk and
SQLite never sees two threads.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from data import migrations
from data.store.base import (
    ACTIONS,
    APPEAL_STATES,
    DIRECTIONS,
    JOB_STATES,
    JOB_TABLES,
    REVIEW_STATES,
    TERMINAL_STATES,
    USER_TABLES,
    StoreError,
    _explain,
)
from data.store.community import CommunityTables
from data.store.jobs import JobTables
from data.store.moderation import ModerationTables
from data.store.people import PeopleTables
from data.store.retention import RetentionTables

__all__ = [
    "ACTIONS",
    "APPEAL_STATES",
    "DIRECTIONS",
    "JOB_STATES",
    "JOB_TABLES",
    "REVIEW_STATES",
    "TERMINAL_STATES",
    "USER_TABLES",
    "AsyncStore",
    "Store",
    "StoreError",
]
log = logging.getLogger(__name__)


class Store(JobTables, ModerationTables, PeopleTables, CommunityTables, RetentionTables):
    """Synchronous access to the genbot SQLite database at `path`."""

    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        if not self.path.parent.is_dir():
            raise StoreError(f"{self.path}: folder {str(self.path.parent)!r} does not exist")
        try:
            self.db = Database(sqlite3.connect(str(self.path), timeout=10))
            self._check_usable()
            self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")
            applied_now = migrations.apply(self.db)
        except sqlite3.Error as exc:
            raise StoreError(_explain(self.path, exc)) from None
        if applied_now:
            log.info("store %s: applied migrations %s", self.path, ", ".join(applied_now))

    def _check_usable(self) -> None:
        # Runs before anything is written, so a corrupt (header read fails) or read-only file
        # is refused whole.
        # BEGIN IMMEDIATE alone succeeds on a read-only WAL file, so write the header's
        # user_version back unchanged and roll that back.
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(f"PRAGMA user_version = {int(version)}")
        finally:
            self.db.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def schema(self) -> list[str]:
        """Return the names of the applied migrations."""
        return migrations.applied(self.db)


class AsyncStore:
    """Runs every method of one `Store` on one dedicated thread: `await astore.get_job(1)`."""

    def __init__(self, executor: ThreadPoolExecutor, store: Store) -> None:
        self._executor = executor
        self._store = store

    @classmethod
    async def open(cls, path: Path | str, clock: Callable[[], float] = time.time) -> AsyncStore:
        """Open the store on a new dedicated thread (migrations run there too)."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="genbot-store")
        loop = asyncio.get_running_loop()
        try:
            store = await loop.run_in_executor(executor, Store, path, clock)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, store)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._store, name)
        if name.startswith("_") or not callable(method):
            raise AttributeError(name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, lambda: method(*args, **kwargs))

        call.__name__ = name
        return call

    async def close(self) -> None:
        """Close the connection on its thread, then stop the thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._store.close)
        self._executor.shutdown(wait=True)
