"""How results and refusals read: chunking, buttons, plain-words refusals."""

import base64

from bot import render
from moderation.verdict import Reason, Verdict

JOB = {"id": 42, "user": 7, "seed": 5, "command": "write", "params": {"prompt": "a poem"}}


def test_chunk_respects_the_limit_and_keeps_every_word():
    text = " ".join(f"word{k}" for k in range(3000))
    pieces = render.chunk(text, 2000)
    assert all(len(p) <= 2000 for p in pieces)
    assert " ".join(pieces).split() == text.split()
    assert render.chunk("x" * 4500, 2000) == ["x" * 2000, "x" * 2000, "x" * 500]


def test_long_text_goes_into_embeds_then_a_file():
    short = render.result(JOB, {"outputs": [{"text": "hello " * 900}]})  # 5,400 characters
    assert len(short.blocks) == 2 and not short.files
    long = render.result(JOB, {"outputs": [{"text": "hello " * 2000}]})
    assert long.files and long.files[0][0] == "result.txt"
    assert "job 42" in long.content and "<@7>" in long.content


def test_image_result_has_grid_and_every_button():
    png = base64.b64encode(b"\x89PNG fake").decode()
    job = {**JOB, "command": "imagine"}
    out = render.result(job, {"outputs": [{"role": "grid", "data": png, "mime": "image/png"}]})
    ids = [b.custom_id for b in out.buttons]
    assert ids[:4] == [f"gen:var:42:{k}" for k in range(4)]
    assert {"gen:reroll:42", "gen:report:42", "gen:del:42", "gen:up:42:3"} <= set(ids)
    assert out.files == (("genbot-42.png", b"\x89PNG fake"),)


def test_refusal_names_the_check_in_plain_words_and_quotes_the_span():
    verdict = Verdict("block", (Reason("threat", 0.97, (6, 15)),))
    text = render.refusal(verdict, "prompt", "I'll  hurt you badly")
    assert "a threat of violence" in text and "`threat`" in text and "97%" in text
    assert '("hurt you")' in text and "Appeal" in text


def test_an_empty_text_result_still_says_something():
    out = render.result(JOB, {"outputs": [{"text": "  "}]})
    assert out.blocks == ("*(the model wrote nothing)*",)
