"""Migrations: applied at open, safe to re-apply, atomic; bad database files fail cleanly."""

import os
import subprocess
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from data import migrations
from data.store import Store, StoreError


def test_fresh_database_gets_every_migration(tmp_path):
    store = Store(tmp_path / "g.db")
    assert store.schema() == migrations.known()
    assert {
        "jobs",
        "verdicts",
        "guild_policies",
        "strikes",
        "appeals",
        "consent",
        "feedback",
    } <= set(store.db.table_names())
    store.close()


def test_reopening_applies_nothing_and_keeps_rows(tmp_path):
    store = Store(tmp_path / "g.db")
    job = store.create_job(guild=1, channel=1, user=1, command="write", params={})
    store.close()
    again = Store(tmp_path / "g.db")
    assert migrations.apply(again.db) == []
    assert again.schema() == migrations.known() and again.get_job(job["id"])
    assert again.db["_sqlite_migrations"].count == len(migrations.known())
    again.close()


def test_a_failing_migration_leaves_nothing_half_written(tmp_path, monkeypatch):
    broken = Migrations("genbot")
    broken(name="0001_initial")(migrations.initial)

    @broken(name="0002_broken")
    def add_then_fail(db):
        db["half"].create({"id": int}, pk="id")
        db["jobs"].add_column("half_done", str)
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(migrations, "MIGRATIONS", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        Store(tmp_path / "g.db")
    db = Database(tmp_path / "g.db")  # look without applying anything
    assert migrations.applied(db) == ["0001_initial"]
    assert "half" not in db.table_names() and "half_done" not in db["jobs"].columns_dict
    db.close()


def test_corrupt_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "g.db"
    garbage = b"this is not sqlite" * 300
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match=r"g\.db: not a valid SQLite database"):
        Store(path)
    assert path.read_bytes() == garbage
    assert not (tmp_path / "g.db-wal").exists()


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "nope" / "g.db")


def _make_read_only(path: Path) -> None:
    os.chmod(path, 0o444)
    # root ignores file modes; the immutable attribute binds root too.
    if os.geteuid() == 0 and subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("running as root without chattr: cannot make a file read-only")


def test_read_only_file_is_refused_without_writing(tmp_path):
    path = tmp_path / "g.db"
    Store(path).close()
    for leftover in tmp_path.glob("g.db-*"):
        leftover.unlink()
    before = path.read_bytes()
    _make_read_only(path)
    try:
        with pytest.raises(StoreError, match=r"g\.db: database is read-only"):
            Store(path)
        assert path.read_bytes() == before
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        os.chmod(path, 0o644)
