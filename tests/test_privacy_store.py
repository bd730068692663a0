"""Privacy in the store: forgetting a person leaves no trace of them in any table, retention
purges old jobs and keeps only a pseudonymous decision log, the community dataset follows
consent."""

from __future__ import annotations

import pytest

from data import install_secret
from data.store import Store
from tests.test_store import Clock

ME, OTHER, GUILD = 424242424242, 515151515151, 777
DAY = 86400.0


@pytest.fixture
def clock():
    return Clock(1_800_000_000.0)  # 2027: the decision log's days are real dates


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "genbot.db", clock=clock)
    yield s
    s.close()


def job(store, user, prompt="a cat", command="imagine"):
    return store.create_job(
        guild=GUILD, channel=2, user=user, command=command, params={"prompt": prompt}
    )


def every_cell(store):
    """Yield (table, column, value as text) for every cell of every table."""
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    for table in tables:
        for row in store.db[table].rows:
            for column, value in row.items():
                yield table, column, value if isinstance(value, bytes) else str(value)


def touch_every_table(store, who, hasher):
    """Give `who` a row (or a cell) in every table, in every role a person can have."""
    mine, theirs = job(store, who), job(store, OTHER)
    for j in (mine, theirs):
        store.add_verdict(
            j["id"], direction="prompt", action="flag", reasons=[], scores={}, model_versions={}
        )
    store.add_strike(guild=GUILD, user=who, label="spam", job_id=mine["id"])
    appeal = store.add_appeal(job_id=mine["id"], guild=GUILD, user=who, reason="please")
    other_appeal = store.add_appeal(job_id=theirs["id"], guild=GUILD, user=OTHER, reason="hm")
    store.resolve_appeal(other_appeal, state="rejected", by=who)  # as a moderator
    store.set_consent(guild=GUILD, user=who, granted=True)
    store.add_feedback(job_id=theirs["id"], user=who, rating=1)
    review = store.add_review(
        job_id=theirs["id"], guild=GUILD, kind="report", note="reported", reporter=who
    )
    store.resolve_review(review, state="approved", by=who)
    store.add_rule(
        guild=GUILD, label="spam", pattern="buy*", kind="keyword", score=1.0, created_by=who
    )
    store.add_denylisted_image(guild=GUILD, hash="ff00", note="x", created_by=who)
    store.set_guild_policy(
        GUILD, preset="pg13", overrides={}, shadow=False, review_channel=None, updated_by=who
    )
    store.add_community_item(
        job_id=mine["id"],
        tile=0,
        guild=GUILD,
        user=who,
        family="text",
        prompt="a cat",
        text="A cat sat.",
        approved_by=OTHER,
    )
    store.add_community_item(
        job_id=theirs["id"],
        tile=0,
        guild=GUILD,
        user=OTHER,
        family="text",
        prompt="a dog",
        text="A dog ran.",
        approved_by=who,
    )
    # An old job of theirs, purged by retention into the pseudonymous decision log.
    old = job(store, who, "an old prompt")
    store.add_verdict(
        old["id"], direction="prompt", action="allow", reasons=[], scores={}, model_versions={}
    )
    store.end_job(old["id"], "posted")
    store.db.execute(
        "UPDATE jobs SET created_at = created_at - 40 * 86400 WHERE id = ?", [old["id"]]
    )
    store.purge_expired(store.clock() - 30 * DAY, hasher)
    return appeal


def test_forget_leaves_no_cell_naming_the_person_anywhere(store, tmp_path):
    secret = install_secret.load(tmp_path)
    hasher = lambda user: install_secret.pseudonym(secret, "user", user)  # noqa: E731
    touch_every_table(store, ME, hasher)
    mine = hasher(ME)
    before = [(t, c) for t, c, v in every_cell(store) if str(ME) in str(v) or mine in str(v)]
    # Every table a person can appear in is covered by the touch above.
    assert {t for t, _ in before} >= {
        "jobs",
        "strikes",
        "appeals",
        "consent",
        "feedback",
        "reviews",
        "guild_rules",
        "image_denylist",
        "guild_policies",
        "community_items",
        "decision_log",
    }
    exported = store.export_user(ME, mine)
    assert exported["decision_log"] and exported["community_items"] and exported["acted_in"]

    store.forget_user(ME, mine)

    left = [(t, c) for t, c, v in every_cell(store) if str(ME) in str(v) or mine in str(v)]
    assert left == []
    assert not any(rows for rows in store.export_user(ME, mine).values())
    # The other person's rows stay; the rows ME moderated stay, without ME's id.
    assert store.community_items(guild=GUILD) == []  # OTHER never consented
    store.set_consent(guild=GUILD, user=OTHER, granted=True)
    (item,) = store.community_items(guild=GUILD)
    assert item["user"] == OTHER and item["approved_by"] is None
    assert store.guild_rules(GUILD)[0]["created_by"] is None


def test_retention_purges_old_jobs_and_keeps_a_pseudonymous_log(store, clock, tmp_path):
    secret = install_secret.load(tmp_path)
    hasher = lambda user: install_secret.pseudonym(secret, "user", user)  # noqa: E731
    old = job(store, ME, "email me at a@b.example")
    store.add_verdict(
        old["id"],
        direction="prompt",
        action="flag",
        reasons=[{"label": "pii", "score": 0.9, "span": [12, 23], "source": "pii:email"}],
        scores={"pii": 0.9},
        model_versions={},
    )
    store.end_job(old["id"], "posted")
    store.add_feedback(job_id=old["id"], user=OTHER, rating=1)
    store.set_consent(guild=GUILD, user=ME, granted=True)
    store.add_community_item(
        job_id=old["id"],
        tile=0,
        guild=GUILD,
        user=ME,
        family="text",
        prompt="p",
        text="t",
        approved_by=OTHER,
    )
    store.add_strike(guild=GUILD, user=ME, label="pii", job_id=old["id"])
    clock.now += 31 * DAY
    fresh = job(store, ME, "a fresh prompt")
    running = job(store, OTHER, "still running")
    store.db.execute("UPDATE jobs SET created_at = 0 WHERE id = ?", [running["id"]])

    counts, files = store.purge_expired(clock.now - 30 * DAY, hasher)

    assert counts["jobs"] == 1 and counts["decision_log"] == 1 and counts["strikes"] == 1
    assert store.get_job(old["id"]) is None and store.get_job(fresh["id"])
    assert store.get_job(running["id"]), "an unfinished job is never purged"
    (logged,) = store.db["decision_log"].rows
    assert logged["user_hash"] == hasher(ME) and logged["label"] == "pii"
    assert logged["action"] == "flag" and logged["day"] == "2027-01-15"
    assert not any("a@b.example" in str(v) for _, _, v in every_cell(store))
    # The approved item keeps the rating its job had.
    (item,) = store.community_items()
    assert (item["up"], item["down"]) == (1, 0)
    assert store.decision_counts(GUILD, "2027-01-01")[0]["n"] == 1
    assert files == []


def test_community_items_follow_consent_and_count_ratings(store):
    j = job(store, ME)
    item = store.add_community_item(
        job_id=j["id"],
        tile=2,
        guild=GUILD,
        user=ME,
        family="gan",
        prompt="a cat",
        image_png=b"\x89PNG",
        approved_by=OTHER,
    )
    again = store.add_community_item(
        job_id=j["id"],
        tile=2,
        guild=GUILD,
        user=ME,
        family="gan",
        prompt="a cat",
        image_png=b"\x89PNG",
        approved_by=OTHER,
    )
    assert again == item
    assert store.community_items() == []  # no consent yet
    store.set_consent(guild=GUILD, user=ME, granted=True)
    store.add_feedback(job_id=j["id"], user=OTHER, rating=1)
    store.add_feedback(job_id=j["id"], user=ME, rating=-1)
    (row,) = store.community_items(guild=GUILD)
    assert (row["up"], row["down"], row["tile"]) == (1, 1, 2)
    store.set_consent(guild=GUILD, user=ME, granted=False)
    assert store.community_items() == []  # withdrawn consent takes the item out of every export
