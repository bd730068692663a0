"""`genbot eval` on tiny checkpoints and synthetic data: metrics, report, encoder maths."""

import json

import pytest
import torch

from generators import eval_encoder


def test_frechet_distance_and_ranks():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0))
    assert eval_encoder.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-6)
    assert eval_encoder.frechet_distance(x, x + 3) == pytest.approx(8 * 9, rel=1e-3)
    e = torch.nn.functional.normalize(torch.randn(10, 4), dim=1)
    assert eval_encoder.retrieval_ranks(e, e).tolist() == [1] * 10
    assert set(eval_encoder.retrieval_ranks(-e, e).tolist()) == {10}


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory):
    import subprocess
    import sys

    from tests.conftest import clean_env

    home = tmp_path_factory.mktemp("home")
    for name in ("gan", "vae"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bot.cli",
                "train",
                name,
                "--preset",
                "tiny",
                "--dry-run",
                "--no-progress",
            ],
            env=clean_env(GENBOT_HOME=str(home)),
            check=True,
            capture_output=True,
            timeout=300,
        )
    return home


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_eval_writes_metrics_and_report(genbot, dry_runs, name):
    checkpoint = dry_runs / "runs" / f"{name}-tiny-dry-run" / "model.pt"
    shipped = dry_runs / "shipped" / name
    result = genbot(
        "eval",
        name,
        "--checkpoint",
        str(checkpoint),
        "--data",
        "synthetic",
        "--no-progress",
        "--ship",
        str(shipped),
        env={"GENBOT_HOME": str(dry_runs)},
    )
    assert result.returncode == 0, result.stderr
    out = checkpoint.parent / "eval"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (out / "report.png").read_bytes().startswith(b"\x89PNG")
    assert metrics["step"] == 2 and metrics["data"] == "synthetic"
    card = (shipped / "MODEL_CARD.md").read_text()
    assert "| metric | value |" in card and "Apache-2.0" in card and "--seed 0" in card
    for produced in ("model.pt", "report.png", "metrics.json", "samples.png", "loss-curves.png"):
        assert (shipped / produced).is_file(), produced
    assert "--epochs 1 --seed 0" in card  # the dry run's one epoch, no time limit
    if name == "gan":
        assert "- **Training**: hinge loss, matching-aware projection discriminator" in card
        for key in ("fidelity_held_out", "fidelity_train", "real_images_held_out"):
            assert 0.0 <= metrics[key]["r_at_1"] <= metrics[key]["r_at_10"] <= 1.0
        assert metrics["frechet_distance"] >= 0 and metrics["random_baseline"]["r_at_1"] > 0
        # The encoder learned the synthetic captions: real training images retrieve their own.
        assert metrics["real_images_train"]["r_at_1"] > 3 * metrics["random_baseline"]["r_at_1"]
    else:
        assert metrics["held_out"]["negative_elbo"] > 0 and 0 <= metrics["held_out"]["mse"] <= 1
        assert set(metrics["ood_score"]) == {"held_out_emoji", "uniform_noise", "stripes"}


def test_eval_of_a_missing_checkpoint_is_a_clear_error(genbot, home):
    result = genbot(
        "eval", "gan", "--checkpoint", str(home / "nope.pt"), env={"GENBOT_HOME": str(home)}
    )
    assert result.returncode == 2 and "no such checkpoint" in result.stderr


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_eval_dry_run_for_every_family(genbot, home, name):
    result = genbot("eval", name, "--dry-run", "--no-progress", env={"GENBOT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert (home / "runs" / f"{name}-eval-dry-run" / "eval" / "metrics.json").is_file()


def test_a_card_names_the_training_aids_and_the_time_limit_of_its_run(tmp_path):
    import dataclasses

    from generators import model_card
    from generators.models import gan

    run, evaluated = tmp_path / "run", tmp_path / "eval"
    run.mkdir(), evaluated.mkdir()
    (run / "model.pt").write_bytes(b"weights")
    (evaluated / "report.png").write_bytes(b"\x89PNG")
    blob = {
        "step": 7300,
        "config": dataclasses.asdict(gan.PRESETS["small"]),
        "meta": {"epoch": 143, "epochs_requested": 300, "max_minutes": 95, "seed": 0,
                 "preset": "small", "wall_s": 5700, "device": "cpu"},
    }  # fmt: skip
    metrics = {
        "fidelity_held_out": {"pool": 100, "r_at_1": 0.1, "r_at_10": 0.5},
        "random_baseline": {"r_at_1": 0.01, "r_at_10": 0.1},
        "r_at_10_vs_baseline": 5.0,
        "fidelity_train": {"r_at_10": 0.6},
        "real_images_held_out": {"r_at_10": 0.8},
        "frechet_distance": 10.0,
        "frechet_real_vs_real": 0.6,
        "diversity_within_prompt": 0.05,
        "diversity_between_prompts": 0.5,
    }
    card = model_card.ship("gan", blob, metrics, run / "model.pt", evaluated, tmp_path / "out")
    text = card.read_text()
    assert "genbot train gan --preset small --epochs 300 --max-minutes 95 --seed 0" in text
    assert "**epochs** 143, **steps** 7300" in text
    assert "through `translation,cutout`" in text and "by 19.6" in text
    assert "(weight 30)" in text and "at 32 px" in text
    assert "50% of images shown with their short prompt" in text
    assert "every emoji name drawn equally often" in text
    assert "\n- **Weights**" in text
