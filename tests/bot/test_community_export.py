"""The community export over a real store: consent, ratings, redaction, the datasheet, and
which outputs of a reply become items."""

from __future__ import annotations

import base64
import json

import pytest

from bot.community import approved_outputs
from bot.community_export import export
from data.community import CommunityDataError, read_items
from data.store import Store

SECRET = b"s" * 32


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "genbot.db")
    yield s
    s.close()


def approved(store, user, family="text", prompt="a poem", text="Roses.", rating=0, guild=5):
    job = store.create_job(
        guild=guild, channel=1, user=user, command="write", params={"prompt": prompt}
    )
    for voter in range(abs(rating)):
        store.add_feedback(job_id=job["id"], user=1000 + voter, rating=1 if rating > 0 else -1)
    png = None if family == "text" else b"\x89PNG fake"
    store.add_community_item(
        job_id=job["id"],
        tile=0,
        guild=guild,
        user=user,
        family=family,
        prompt=prompt,
        text=text if family == "text" else None,
        image_png=png,
        approved_by=99,
    )
    store.set_consent(guild=guild, user=user, granted=True)
    return job


def test_export_keeps_consented_items_redacts_and_writes_a_datasheet(store, tmp_path):
    approved(store, 1, rating=2)
    approved(store, 2, family="gan", prompt="a kite", rating=-1)
    approved(store, 3, text="call me on +44 20 7946 0958 tonight")  # redacted, kept
    approved(store, 4, prompt="ping 4111 1111 1111 1111")  # a card number: redacted, kept
    withdrawn = approved(store, 5)
    store.set_consent(guild=5, user=withdrawn["user"], granted=False)

    summary = export(store, tmp_path / "out", SECRET, min_rating=-1)

    items = read_items(tmp_path / "out")
    assert summary.items == len(items) == 4
    text = (tmp_path / "out" / "community.jsonl").read_text()
    assert "7946" not in text and "4111" not in text and "[phone]" in text and "[card]" in text
    assert {i.family for i in items} == {"text", "gan"}
    assert sorted(i.rating for i in items) == [-1, 0, 0, 2]
    assert all(len(i.id) == 16 and len(i.guild) == 16 for i in items)
    sheet = json.loads((tmp_path / "out" / "datasheet.json").read_text())
    assert sheet["by_family"] == {"gan": 1, "text": 3} and sheet["guilds"] == 1
    assert sheet["labels"] == {"disliked": 1, "liked": 1, "unrated": 2}
    assert "4 items from 1 server(s)" in (tmp_path / "out" / "DATASHEET.md").read_text()


def test_min_rating_leaves_items_out_and_counts_them(store, tmp_path):
    approved(store, 1, rating=1)
    approved(store, 2, rating=-2)
    summary = export(store, tmp_path / "out", SECRET, min_rating=1)
    assert (summary.items, summary.below_rating) == (1, 1)


def test_a_malformed_export_names_its_line(tmp_path):
    path = tmp_path / "community.jsonl"
    path.write_text('{"id": "a"}\n')
    with pytest.raises(CommunityDataError, match=r"community\.jsonl:1"):
        read_items(path)
    with pytest.raises(CommunityDataError, match="export-community"):
        read_items(tmp_path / "nowhere")


def test_approved_outputs_keep_tiles_not_the_grid_and_texts():
    png = base64.b64encode(b"\x89PNG").decode()
    grid = {"mime": "image/png", "data": png, "role": "grid"}
    tiles = [{"mime": "image/png", "data": png, "role": "tile", "index": k} for k in range(4)]
    reply = {"outputs": [grid, *tiles]}
    assert [t for t, _, _ in approved_outputs("imagine", reply).items] == [0, 1, 2, 3]
    (only,) = approved_outputs("imagine", reply, tile=2).items
    assert only == (2, None, b"\x89PNG")
    text = approved_outputs("write", {"outputs": [{"mime": "text/plain", "text": "Hi."}]})
    assert text.family == "text" and text.items == ((0, "Hi.", None),)
    abc = {"mime": "text/vnd.abc", "text": "X:1\nK:D\nabc|"}
    wav = {"mime": "audio/wav", "data": png}
    tune = approved_outputs("compose", {"outputs": [abc, wav]})
    assert tune.family == "music" and tune.items == ((0, abc["text"], None),)
