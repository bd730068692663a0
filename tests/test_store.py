"""The store on a real SQLite file: jobs, verdicts, policies, strikes, appeals, privacy."""

import asyncio
import sqlite3
import threading

import pytest

from data.store import JOB_STATES, USER_TABLES, AsyncStore, Store


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(tmp_path, clock):
    s = Store(tmp_path / "genbot.db", clock=clock)
    yield s
    s.close()


def new_job(store, user=7, guild=1, command="imagine", params=None):
    return store.create_job(
        guild=guild, channel=2, user=user, command=command, params=params or {"prompt": "cat"}
    )


def test_wal_mode_and_foreign_keys(store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(sqlite3.IntegrityError):
        store.add_verdict(
            999, direction="prompt", action="allow", reasons=[], scores={}, model_versions={}
        )


def test_job_round_trip(store, clock):
    job = new_job(store, params={"prompt": "red heart", "seed": 42})
    assert job["state"] == "received" and job["created_at"] == clock.now
    assert store.get_job(job["id"])["params"] == {"prompt": "red heart", "seed": 42}
    assert store.get_job(12345) is None


def test_state_changes_are_compare_and_set(store, clock):
    job = new_job(store)
    clock.now += 5
    assert store.set_job_state(job["id"], "screening", expect=["received"])
    assert not store.set_job_state(job["id"], "screening", expect=["received"])
    assert store.set_job_state(job["id"], "failed", error="service down")
    row = store.get_job(job["id"])
    assert (row["state"], row["error"], row["updated_at"]) == ("failed", "service down", clock.now)
    with pytest.raises(ValueError, match="unknown job state"):
        store.set_job_state(job["id"], "exploded")


def test_unfinished_jobs_are_found_for_resume(store):
    jobs = [new_job(store) for _ in range(4)]
    store.set_job_state(jobs[0]["id"], "queued")
    store.set_job_state(jobs[1]["id"], "generating")
    store.set_posted(jobs[2]["id"], message_id=555)
    unfinished = store.jobs_in_states(["received", "screening", "queued", "generating"])
    assert [j["id"] for j in unfinished] == [jobs[0]["id"], jobs[1]["id"], jobs[3]["id"]]
    posted = store.get_job(jobs[2]["id"])
    assert (posted["state"], posted["posted_message_id"]) == ("posted", 555)
    assert set(JOB_STATES) >= {j["state"] for j in store.user_jobs(7)}


def test_verdicts_keep_json(store):
    job = new_job(store)
    store.add_verdict(
        job["id"],
        direction="output",
        action="flag",
        reasons=[["insult", 0.7, [0, 5]]],
        scores={"insult": 0.7},
        model_versions={"detoxify": "unbiased"},
    )
    (verdict,) = store.verdicts_for(job["id"])
    assert verdict["reasons"] == [["insult", 0.7, [0, 5]]] and verdict["scores"] == {"insult": 0.7}
    with pytest.raises(ValueError):
        store.add_verdict(
            job["id"],
            direction="sideways",
            action="allow",
            reasons=[],
            scores={},
            model_versions={},
        )


def test_guild_policy_upsert(store):
    assert store.get_guild_policy(1) is None
    store.set_guild_policy(
        1,
        preset="kids",
        overrides={"insult": [0.2, 0.5]},
        shadow=True,
        review_channel=9,
        updated_by=3,
    )
    store.set_guild_policy(
        1, preset="pg13", overrides={}, shadow=False, review_channel=None, updated_by=4
    )
    policy = store.get_guild_policy(1)
    assert (policy["preset"], policy["overrides"], policy["shadow"]) == ("pg13", {}, 0)


def test_strikes_window_and_clear(store, clock):
    store.add_strike(guild=1, user=7, label="insult", job_id=None)
    clock.now += 100
    store.add_strike(guild=1, user=7, label="threat", job_id=None)
    store.add_strike(guild=2, user=7, label="threat", job_id=None)
    assert [s["label"] for s in store.strikes_since(1, 7, clock.now - 50)] == ["threat"]
    assert len(store.strikes_since(1, 7, 0)) == 2
    assert store.clear_strikes(1, 7) == 2 and store.strikes_since(2, 7, 0)


def test_appeals_open_resolve_and_count(store, clock):
    job = new_job(store)
    first = store.add_appeal(job_id=job["id"], guild=1, user=7, reason="it was a cooking term")
    clock.now += 10
    store.add_appeal(job_id=job["id"], guild=1, user=7, reason="again")
    assert [a["id"] for a in store.open_appeals(1)] == [first, first + 1]
    assert store.count_appeals_since(7, clock.now - 5) == 1
    assert store.resolve_appeal(first, state="accepted", by=99)
    assert not store.resolve_appeal(first, state="rejected", by=99)
    assert len(store.open_appeals(1)) == 1
    with pytest.raises(ValueError):
        store.resolve_appeal(first, state="open", by=99)


def test_consent_and_feedback(store):
    assert not store.has_consent(guild=1, user=7)
    store.set_consent(guild=1, user=7, granted=True)
    assert store.has_consent(guild=1, user=7) and not store.has_consent(guild=2, user=7)
    job = new_job(store)
    store.add_feedback(job_id=job["id"], user=7, rating=1)
    store.add_feedback(job_id=job["id"], user=7, rating=-1)  # a change of mind, not a 2nd vote
    store.add_feedback(job_id=job["id"], user=8, rating=-1)
    assert store.feedback_for(job["id"]) == {"up": 0, "down": 2}
    with pytest.raises(ValueError):
        store.add_feedback(job_id=job["id"], user=8, rating=5)


def test_every_table_with_a_user_column_is_covered_by_privacy(store):
    tables = [r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    with_user = {t for t in tables if "user" in store.db[t].columns_dict}
    assert with_user == set(USER_TABLES)


def test_export_then_forget_leaves_no_row_of_the_user(store):
    mine, theirs = new_job(store, user=7), new_job(store, user=8)
    for job in (mine, theirs):
        store.add_verdict(
            job["id"], direction="prompt", action="allow", reasons=[], scores={}, model_versions={}
        )
    store.add_strike(guild=1, user=7, label="spam", job_id=mine["id"])
    store.add_appeal(job_id=mine["id"], guild=1, user=7, reason="please")
    store.set_consent(guild=1, user=7, granted=True)
    store.add_feedback(job_id=mine["id"], user=7, rating=1)
    store.add_feedback(job_id=theirs["id"], user=7, rating=1)
    store.add_feedback(job_id=mine["id"], user=8, rating=-1)  # on my job: goes with my job
    store.add_review(job_id=mine["id"], guild=1, kind="report", note="reported by 8")

    exported = store.export_user(7)
    assert {t: len(rows) for t, rows in exported.items()} == {
        "jobs": 1,
        "strikes": 1,
        "appeals": 1,
        "consent": 1,
        "feedback": 2,
        "verdicts": 1,
        "reviews": 1,
        "community_items": 0,
        "acted_in": 0,
    }
    store.forget_user(7)
    assert all(not rows for rows in store.export_user(7).values())
    for table, column in USER_TABLES.items():
        sql = f"SELECT count(*) FROM {table} WHERE {column} = 7"
        assert store.db.execute(sql).fetchone()[0] == 0
    assert store.get_job(theirs["id"]) and len(store.verdicts_for(theirs["id"])) == 1


async def test_async_store_runs_every_call_on_one_thread(tmp_path):
    threads = set()

    def clock():
        threads.add(threading.current_thread().name)
        return 1.0

    astore = await AsyncStore.open(tmp_path / "a.db", clock=clock)
    jobs = await asyncio.gather(
        *(
            astore.create_job(guild=1, channel=1, user=u, command="write", params={"n": u})
            for u in range(20)
        )
    )
    assert sorted(j["params"]["n"] for j in jobs) == list(range(20))
    assert len(threads) == 1 and threads.pop().startswith("genbot-store")
    assert (await astore.get_job(jobs[0]["id"]))["user"] == jobs[0]["user"]
    with pytest.raises(AttributeError):
        astore._check_usable  # noqa: B018
    await astore.close()


def test_guild_rules_add_replace_remove(store):
    store.add_rule(
        guild=1, label="spam", pattern="buy now", kind="keyword", score=0.9, created_by=5
    )
    store.add_rule(
        guild=1, label="spam", pattern="buy now", kind="keyword", score=0.7, created_by=6
    )
    store.add_rule(
        guild=2, label="obscene", pattern="*heck*", kind="keyword", score=1.0, created_by=5
    )
    (rule,) = store.guild_rules(1)
    assert (rule["pattern"], rule["score"], rule["created_by"]) == ("buy now", 0.7, 6)
    assert store.remove_rule(guild=1, pattern="buy now") == 1 and store.guild_rules(1) == []
    assert len(store.guild_rules(2)) == 1


def test_image_denylist(store):
    store.add_denylisted_image(guild=1, hash="ffee00112233aabb", note="raid spam", created_by=5)
    store.add_denylisted_image(guild=1, hash="ffee00112233aabb", note="again", created_by=5)
    assert store.denylisted_images(1) == ["ffee00112233aabb"] and store.denylisted_images(2) == []
