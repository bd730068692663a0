"""`genbot eval memorisation`: tiny models, a few samples, the figures and the card section."""

import json

import pytest

from generators import evaluate, memorisation_figures
from generators.eval_memorisation import HEADING, SHIPPED, write_card_section
from generators.models import text_lm
from generators.models.text_gpt import PREVIEW_PROMPTS
from moderation.ngram_index import WINDOW, normalise


@pytest.mark.parametrize("family", ["text", "music", "gan"])
def test_dry_run_measures_a_tiny_model_and_writes_the_card_section(family, home, tmp_path):
    out, ship = tmp_path / "out", tmp_path / "card"
    argv = ["memorisation", "--family", family, "--dry-run", "--samples", "4"]
    argv += ["--out", str(out), "--ship", str(ship)]
    for _ in range(2):  # a second run replaces the section instead of adding one
        assert evaluate.main(argv, home=home) == 0
    figures = json.loads((out / f"memorisation-{family}.json").read_text())
    assert figures["family"] == family and figures["samples"] == 4
    assert 0 <= figures["reproduced"] <= 4 and 0 <= figures["reference_share"] <= 1
    card = (ship / "MODEL_CARD.md").read_text()
    assert card.count(HEADING) == 1
    assert f"`genbot eval memorisation --family {family} --dry-run" in card
    assert all(f"| {what} | {value} |" in card for what, value in figures["rows"])


def test_text_samples_that_repeat_the_training_quotes_are_counted(home):
    folder = text_lm.build_tiny(home / "models" / "text-tiny")
    lm = text_lm.load(str(folder), home)
    prompts = [PREVIEW_PROMPTS[k % len(PREVIEW_PROMPTS)] for k in range(6)]
    written = memorisation_figures._write(lm, prompts, seed=0)
    # A corpus that holds the model's own neutral samples: each long one is a reproduction.
    rows = [{"text": f"Quoth the model: {t}", "split": "train"} for t in written]
    held_out = "A held-out quote that no sample repeats, as far as anyone knows."
    rows.append({"text": held_out, "split": "valid"})
    (home / "datasets").mkdir()
    (home / "datasets" / "fortunes.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    figures = memorisation_figures.text_figures(folder, home, 6, 0, "fortunes")
    long_ones = sum(len(normalise(t)[0]) >= WINDOW for t in written)
    assert long_ones > 0 and figures["reproduced_neutral"] == long_ones
    assert figures["reference_share"] == 0 and figures["train_items"] == len(written)


def test_the_section_goes_before_the_limits_or_replaces_the_old_one(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# model\n\nintro\n\n## Limits\n\n- small\n")
    write_card_section(card, f"{HEADING}\n\nfirst\n")
    assert card.read_text() == f"# model\n\nintro\n\n{HEADING}\n\nfirst\n\n## Limits\n\n- small\n"
    write_card_section(card, f"{HEADING}\n\nsecond\n")
    assert card.read_text() == f"# model\n\nintro\n\n{HEADING}\n\nsecond\n\n## Limits\n\n- small\n"


@pytest.mark.parametrize("name", ["text-small", "music-folk", "gan-emoji"])
def test_each_shipped_card_reports_its_memorisation_figure(name):
    card = (SHIPPED / name / "MODEL_CARD.md").read_text()
    section = card[card.index(HEADING) :]
    assert "`genbot eval memorisation --family " in section and " of 1,000 (" in section
