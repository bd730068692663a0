"""The bias audits of the generators and of the training data: their parts on known inputs,
each audit end to end on tiny untrained models (seconds), and on the shipped models (slow)."""

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from bot.settings import ServiceSettings
from generators import audit_images, audit_music, audit_text
from generators.music_header import METERS, parse
from moderation.identity import TERMS, Term

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return replace(ServiceSettings.from_env({}), home=tmp_path_factory.mktemp("home"))


def written(out: Path, name: str) -> tuple[dict, dict]:
    """Return an audit's report and summary, checking that its three files are there."""
    png = (out / f"{name}.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    summary = json.loads((out / f"{name}.summary.json").read_text())
    assert summary["lines"] and summary["report"] == f"{name}.json"
    return json.loads((out / f"{name}.json").read_text()), summary


def assert_rates(block: dict) -> None:
    """Every row's rate lies in its interval, in [0, 1]; the disparity matches the rows."""
    rates = [r["rate"] for r in block["rows"]]
    for row in block["rows"]:
        assert 0.0 <= row["low"] <= row["rate"] <= row["high"] <= 1.0
    assert block["disparity"]["gap"] == pytest.approx(max(rates) - min(rates))


# --- text ------------------------------------------------------------------------------------


def test_text_prompts_swap_every_identity_term_into_every_role():
    assert audit_text.subject(None, "doctor") == "a doctor"
    assert audit_text.subject(Term("elderly", "age", "adj"), "nurse") == "an elderly nurse"
    assert audit_text.subject(Term("european", "x", "adj"), "nurse") == "a european nurse"
    assert audit_text.subject(Term("woman", "gender", "noun", "women"), "doctor") == (
        "a doctor who is a woman"
    )
    items = audit_text.prompts()
    roles = audit_text.ROLES
    assert len(items) == (len(TERMS) + 1) * len(roles)
    assert [i["group"] for i in items[: len(roles)]] == [audit_text.NONE] * len(roles)
    for term in TERMS:
        mine = [i["prompt"] for i in items if i["term"] == term.text]
        assert len(mine) == len(roles) and all(r in p for r, p in zip(roles, mine, strict=True))


def test_text_scores_put_an_insult_above_kind_words(settings):
    from moderation.policy import policy_for
    from moderation.sentiment import SentimentScorer
    from moderation.stack import build_screener

    screener = build_screener(settings)
    units = audit_text.score(
        lambda texts: screener.screen(texts, "output", policy_for()),
        SentimentScorer(),
        [["You are a stupid worthless idiot.", "Hello."], ["A lovely, kind day.", "Good."]],
    )
    rude, kind = units
    assert rude["max_toxicity"] > 0.5 > kind["max_toxicity"]
    assert rude["any_toxic"] == 1.0 and kind["any_toxic"] == 0.0
    assert rude["sentiment"] < 0 < kind["sentiment"]
    assert rude["negative"] == 0.5 and kind["negative"] == 0.0


def test_text_audit_on_a_tiny_model(settings, tmp_path):
    lines = list(audit_text.run_audit(settings, tmp_path, dry_run=True))
    report, summary = written(tmp_path, audit_text.NAME)
    groups = [r["group"] for r in report["groups"]["max_toxicity"]["rows"]]
    assert groups == [audit_text.NONE, *dict.fromkeys(t.group for t in TERMS)]
    for metric, _, kind in audit_text.METRICS:
        if kind != "signed":
            assert_rates(report["groups"][metric])
    maxima = [r["rate"] for r in report["groups"]["max_toxicity"]["rows"]]
    assert min(maxima) <= report["overall"]["expected_max_toxicity"] <= max(maxima)
    assert 0.0 <= report["overall"]["toxicity_probability"] <= 1.0
    assert report["samples_per_prompt"] == 2 and report["model"] == "text-tiny"
    assert "expected max toxicity" in summary["lines"][0] and lines[-1].startswith("wrote")


# --- images ----------------------------------------------------------------------------------


def test_emoji_cells_ask_for_each_tone_of_fully_toned_names():
    from data.emoji import TONES

    index = [{"name": "thumbs up", "tone": None}]
    index += [{"name": "thumbs up", "tone": t} for t in TONES.values()]
    index += [{"name": "red heart", "tone": None}, {"name": "ear", "tone": "dark skin tone"}]
    cells = audit_images.emoji_cells(index)
    assert [c.group for c in cells] == ["none", *TONES.values()]
    assert {c.name for c in cells} == {"thumbs up"}
    assert cells[0].prompt == "thumbs up" and cells[-1].prompt == "thumbs up, dark skin tone"
    assert [c.index for c in cells] == list(range(6))


def test_fidelity_hits_rank_the_true_caption_in_the_top_tenth():
    assert audit_images.top_share(316) == 32 and audit_images.top_share(5) == 1
    captions = torch.nn.functional.normalize(torch.randn(20, 8), dim=-1)
    truth = torch.arange(20)
    assert audit_images.hits(captions, captions, truth).all()
    assert not audit_images.hits(-captions, captions, truth).any()


def test_tone_lift_is_zero_when_the_request_changes_nothing():
    import numpy as np

    from generators.audit_images import Cell, tone_lift

    asked = [Cell("hand", g, f"hand, {g}", k) for k, g in enumerate(("light", "dark"))]
    always_light = np.array([["light", "light"], ["light", "light"]])
    assert tone_lift(asked, always_light).tolist() == [0.0, 0.0]
    obeys = np.array([["light", "light"], ["dark", "light"]])
    assert tone_lift(asked, obeys).tolist() == [0.5, 0.5]


class Painter:
    """A fake GAN family that paints, for each prompt, a fixed real image: the one of the
    same caption (`perfect`) or always the same one."""

    def __init__(self, data, always: int | None = None) -> None:
        self.data, self.always = data, always

    def generate(self, model, embeddings, num_samples, rng):
        rows = []
        for e in embeddings:
            match = int((self.data.embeddings @ e).argmax())
            rows.append(match if self.always is None else self.always)
        images = self.data.images[torch.tensor(rows)].repeat_interleave(num_samples, dim=0)
        return (images + 1) / 2


@pytest.fixture(scope="module")
def shapes(settings):
    from generators.evaluate import load_encoder
    from generators.train import load_all

    data, held = load_all("synthetic", 16, settings.home)
    encoder = load_encoder(data, ~held, settings.home, progress=False)
    return data, held, encoder, audit_images.synthetic_cells(data.captions)


def test_image_audit_of_a_perfect_painter_matches_the_real_images(shapes):
    data, held, encoder, cells = shapes
    report = audit_images.audit(Painter(data), None, data, held, encoder, cells, 2)
    assert report["groups"] == ["red", "green", "blue", "yellow", "purple", "black"]
    honoured = [r["rate"] for r in report["tone_honoured"]["rows"]]
    assert min(honoured) >= 0.8  # colour is what the classifier learnt from the real images
    assert min(r["rate"] for r in report["tone_lift"]["rows"]) >= 0.8
    fidelity = [r["rate"] for r in report["prompt_fidelity"]["rows"]]
    assert fidelity == [r["rate"] for r in report["real_image_fidelity"]["rows"]]
    for key in ("tone_honoured", "prompt_fidelity", "classifier_held_out_accuracy"):
        assert_rates(report[key])


def test_image_audit_of_a_one_colour_painter_honours_one_tone(shapes):
    data, held, encoder, cells = shapes
    red = next(c.index for c in cells if c.group == "red")
    report = audit_images.audit(Painter(data, always=red), None, data, held, encoder, cells, 2)
    rows = {r["group"]: r["rate"] for r in report["tone_honoured"]["rows"]}
    assert rows["red"] == 1.0 and max(v for g, v in rows.items() if g != "red") == 0.0
    assert report["tone_honoured"]["disparity"]["max_min_ratio"] is None  # undefined: a 0
    # Red is "honoured" only because everything is red: the request makes no difference.
    assert {r["rate"] for r in report["tone_lift"]["rows"]} == {0.0}
    assert all(report["confusion"][g]["red"] == 1.0 for g in report["groups"])


def test_gan_audit_on_a_tiny_model(settings, tmp_path):
    lines = list(audit_images.run_audit(settings, tmp_path, dry_run=True))
    report, summary = written(tmp_path, audit_images.NAME)
    assert report["prompts"] == 18 and report["samples_per_prompt"] == 2
    assert report["fidelity_random_baseline"] == pytest.approx(1 / 3)
    assert_rates(report["tone_honoured"])
    assert any(line.startswith("tone honoured") for line in summary["lines"])
    assert lines[-1].startswith("wrote")


# --- music -----------------------------------------------------------------------------------


def test_music_prompts_ask_for_every_rhythm_and_mode():
    items = audit_music.prompts()
    rhythms = [i for i in items if i["dimension"] == "rhythm"]
    assert {i["group"] for i in rhythms} == set(METERS)
    for item in rhythms:
        assert parse(item["prompt"]).rhythm == item["group"]
    modes = {i["group"]: parse(i["prompt"]).key for i in items if i["dimension"] == "mode"}
    assert modes == {"major": "A", "minor": "Am", "dorian": "Ador", "mixolydian": "Amix"}


def test_music_judge_and_unlearnt_styles():
    head = "X:1\nT:t\nM:4/4\nL:1/8\nK:D\n"
    scale = head + "DEFG ABcd | dcBA GFED | DEFG ABcd | d4 d4 |]\n"
    assert audit_music.judge(scale, "D", "4/4") == {"valid": 1.0, "in_key": 1.0, "in_meter": 1.0}
    assert audit_music.judge(scale, "F", "6/8")["in_key"] == 0.0
    assert audit_music.judge(head + "(((((\n", "D", "4/4")["valid"] == 0.0
    vocab = ("<R:reel>", "<K:A>", "<K:Am>")
    items = audit_music.prompts()
    rhythms = [i for i in items if i["dimension"] == "rhythm"]
    assert audit_music.unlearnt(vocab, rhythms) == [r for r in METERS if r != "reel"]
    modes = [i for i in items if i["dimension"] == "mode"]
    assert audit_music.unlearnt(vocab, modes) == ["dorian", "mixolydian"]


def test_genbot_audit_generation_music_dry_run_and_missing_family(genbot, home):
    env = {"GENBOT_HOME": str(home)}
    result = genbot("audit", "generation", "--family", "music", "--dry-run", env=env)
    assert result.returncode == 0, result.stderr
    report, summary = written(home / "reports", audit_music.NAME)
    assert "no people" in report["note"] and "no people" in summary["lines"][0]
    assert len(report["rhythm"]["valid"]["rows"]) == len(METERS)
    for dimension in ("rhythm", "mode"):
        for metric in ("valid", "in_key", "in_meter"):
            assert_rates(report[dimension][metric])
    assert "max/min" in result.stdout
    missing = genbot("audit", "generation", env=env)
    assert missing.returncode == 2 and "--family" in missing.stderr


# --- data ------------------------------------------------------------------------------------


def test_genbot_audit_data_counts_what_is_built(genbot, home):
    datasets = home / "datasets"
    datasets.mkdir()
    people = {"name": "woman farmer", "category": "People & Body"}
    entries = [
        {**people, "tone": None, "caption": "woman farmer"},
        {**people, "tone": "dark skin tone", "caption": "woman farmer, dark skin tone"},
        {"name": "pizza", "tone": None, "category": "Food & Drink", "caption": "pizza, food"},
    ]
    (datasets / "emoji-index.json").write_text(json.dumps({"entries": entries}))
    quotes = ["The old man said he was tired.", "She met a Muslim woman.", "Nothing here."]
    (datasets / "fortunes.jsonl").write_text(
        "\n".join(json.dumps({"text": q, "split": "train"}) for q in quotes)
    )
    result = genbot("audit", "data", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    report, summary = written(home / "reports", "data-audit")
    assert report["emoji"]["tones"]["none"] == 2 and report["emoji"]["tones"]["dark skin tone"] == 1
    fortunes = report["fortunes"]["identity"]
    assert fortunes["groups"]["gender"] == 2 and fortunes["groups"]["religion"] == 1
    assert fortunes["groups"]["age"] == 1 and fortunes["terms"]["woman"] == 1
    assert report["fortunes"]["gendered_words"] == {"feminine": 2, "masculine": 2}
    assert "genbot data build music" in report["folk"]["missing"]
    assert any(line.startswith("folk:") for line in summary["lines"])


# --- the shipped models (slow) ---------------------------------------------------------------


@pytest.mark.slow
def test_text_audit_of_text_small(settings, tmp_path):
    list(audit_text.run_audit(settings, tmp_path, samples=2))
    report, _ = written(tmp_path, audit_text.NAME)
    assert report["model"] == "text-small" and report["prompts"] == (len(TERMS) + 1) * 6


@pytest.mark.slow
def test_music_audit_of_music_folk(settings, tmp_path):
    list(audit_music.run_audit(settings, tmp_path, samples=1))
    report, _ = written(tmp_path, audit_music.NAME)
    assert report["rhythm"]["unlearnt"]  # polka, schottische…: not in the folk collections
    assert max(r["rate"] for r in report["rhythm"]["valid"]["rows"]) > 0.5


@pytest.mark.slow
def test_gan_audit_of_the_shipped_gan(tmp_path):
    home = REPO / "var"
    if not (home / "datasets" / "emoji-index.json").is_file():
        pytest.skip("the emoji dataset is not built (genbot data build images)")
    settings = replace(ServiceSettings.from_env({}), home=home)
    list(audit_images.run_audit(settings, tmp_path, samples=2))
    report, _ = written(tmp_path, audit_images.NAME)
    assert report["names"] >= 300 and len(report["groups"]) == 6
    accuracy = [r["rate"] for r in report["classifier_held_out_accuracy"]["rows"]]
    assert min(accuracy) > 0.5  # the encoder's features do tell the tones apart
