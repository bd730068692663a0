"""Every family (GAN, VAE, music, text): tiny presets on CPU — interface, steps, dry runs."""

import dataclasses

import pytest
import torch

from data import checkpoints
from generators.registry import FAMILIES, family
from generators.text_encoder import hashed_embeddings


def tiny(name):
    module = family(name)
    torch.manual_seed(0)
    return module, module.build(module.PRESETS["tiny"])


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_has_the_interface(name):
    module = family(name)
    assert name == module.FAMILY
    assert {"tiny", "small", "base"} <= set(module.PRESETS)
    assert dataclasses.is_dataclass(module.Config) and module.Config.__dataclass_params__.frozen
    for function in ("build", "optimizers", "train_step", "preview", "export_state", "from_export"):
        assert callable(getattr(module, function)), function


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_train_step_on_its_course_is_finite(name, tmp_path):
    from generators.train import ImageCourse

    module = family(name)
    course = getattr(module, "course", ImageCourse)("synthetic", module.PRESETS["tiny"], tmp_path)
    model = module.build(course.adapt(module.PRESETS["tiny"]))
    losses = course.step(module, model, module.optimizers(model), torch.arange(4), "cpu")
    assert losses and all(torch.isfinite(torch.tensor(v)) for v in losses.values())


def test_gan_same_seed_same_pixels_and_range():
    from generators.models import gan

    _, model = tiny("gan")
    e = torch.from_numpy(hashed_embeddings(["red heart", "pizza"]))
    a = gan.generate(model, e, 3, torch.Generator().manual_seed(7))
    b = gan.generate(model, e, 3, torch.Generator().manual_seed(7))
    c = gan.generate(model, e, 3, torch.Generator().manual_seed(8))
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0


def test_vae_variations_blend_and_ranges():
    from generators.models import vae

    _, model = tiny("vae")
    images = torch.rand(2, 3, 16, 16)
    same = vae.variations(model, images, 3, 0.0, torch.Generator().manual_seed(0))
    assert same.shape == (6, 3, 16, 16) and torch.allclose(same[0], same[2])
    varied = vae.variations(model, images, 3, 1.0, torch.Generator().manual_seed(0))
    assert not torch.allclose(varied[0], varied[1])
    strip = vae.blend(model, images[0], images[1], 5)
    assert strip.shape == (5, 3, 16, 16) and 0.0 <= float(strip.min()) <= float(strip.max()) <= 1.0
    ends = vae.variations(model, images, 1, 0.0, torch.Generator())
    assert torch.allclose(strip[0], ends[0], atol=1e-5) and torch.allclose(
        strip[-1], ends[1], atol=1e-5
    )


def test_vae_out_of_distribution_score_after_calibration():
    from data.synthetic import shapes
    from generators.models import vae

    module, model = tiny("vae")
    opt = module.optimizers(model)
    images, _ = shapes(64, size=16)
    train = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1
    for step in range(60):
        vae.train_step(
            model, opt, train[(step * 8) % 64 :][:8], None, torch.Generator().manual_seed(step)
        )
    with pytest.raises(RuntimeError, match="not calibrated"):
        vae.out_of_distribution(model, torch.rand(1, 3, 16, 16))
    vae.calibrate(model, train)
    familiar = vae.out_of_distribution(model, (train[:8] + 1) / 2)
    noise = vae.out_of_distribution(model, torch.rand(8, 3, 16, 16))
    assert all(0.0 <= s <= 1.0 for s in familiar + noise)
    assert sum(noise) / 8 > sum(familiar) / 8 + 0.2


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_export_round_trip(name, tmp_path):
    module, model = tiny(name)
    path = checkpoints.save(
        tmp_path / "model.pt", family=name, config=module.PRESETS["tiny"],
        state_dict=module.export_state(model), step=3, meta={"seed": 0},
    )  # fmt: skip
    blob = checkpoints.load(path, family=name)
    config = checkpoints.config_from(blob, module.Config)
    assert config == module.PRESETS["tiny"] and blob["step"] == 3
    again = module.from_export(config, blob["state_dict"])
    first, second = module.export_state(again), module.export_state(model)
    assert all(torch.allclose(first[k], second[k], equal_nan=True) for k in first)
    assert path.stat().st_size < 1_000_000


@pytest.mark.parametrize("name", ["gan", "vae"])
def test_a_whole_training_state_loads_for_inference_too(name):
    # `genbot eval --checkpoint runs/…/last.pt`: the training checkpoint, not model.pt.
    module, model = tiny(name)
    again = module.from_export(module.PRESETS["tiny"], model.state_dict())
    first, second = module.export_state(again), module.export_state(model)
    assert all(torch.allclose(first[k], second[k], equal_nan=True) for k in first)


def test_checkpoint_errors_are_clear(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(checkpoints.CheckpointError, match="not a readable genbot checkpoint"):
        checkpoints.load(bogus)
    with pytest.raises(checkpoints.CheckpointError, match="no such checkpoint"):
        checkpoints.load(tmp_path / "missing.pt")
    module, model = tiny("vae")
    path = checkpoints.save(tmp_path / "v.pt", family="vae", config=module.PRESETS["tiny"],
                            state_dict=module.export_state(model), step=0)  # fmt: skip
    with pytest.raises(checkpoints.CheckpointError, match="holds a vae model, not gan"):
        checkpoints.load(path, family="gan")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_dry_run_through_the_cli(genbot, home, name):
    result = genbot("train", name, "--preset", "tiny", "--dry-run", "--no-progress",
                    env={"GENBOT_HOME": str(home)})  # fmt: skip
    assert result.returncode == 0, result.stderr
    run = home / "runs" / f"{name}-tiny-dry-run"
    suffix = {"music": "abc", "text": "txt"}.get(name, "png")
    sample = f"samples/epoch-0001.{suffix}"
    for produced in ("last.pt", "model.pt", "loss-curves.png", sample):
        assert (run / produced).is_file(), produced
    blob = checkpoints.load(run / "model.pt", family=name)
    assert blob["meta"]["dataset_hash"] and blob["meta"]["data"] == "synthetic"
    assert blob["step"] == 2


def test_resume_continues_the_step_count(genbot, home):
    env = {"GENBOT_HOME": str(home)}
    base = ["train", "vae", "--preset", "tiny", "--data", "synthetic", "--no-progress"]
    assert genbot(*base, "--epochs", "1", env=env).returncode == 0
    first = checkpoints.load(home / "runs" / "vae-tiny" / "last.pt")["step"]
    assert genbot(*base, "--epochs", "2", "--resume", env=env).returncode == 0
    second = checkpoints.load(home / "runs" / "vae-tiny" / "last.pt")
    assert second["step"] == 2 * first and second["meta"]["epoch"] == 2


def test_bad_training_arguments(genbot, home):
    env = {"GENBOT_HOME": str(home)}
    assert "unknown preset" in genbot("train", "gan", "--preset", "huge", env=env).stderr
    assert (
        "--set 'nope=1'" in genbot("train", "gan", "--set", "nope=1", "--dry-run", env=env).stderr
    )


def test_unknown_data_source_is_a_clear_error(genbot, home):
    result = genbot(
        "train", "music", "--preset", "tiny", "--data", "jazz", env={"GENBOT_HOME": str(home)}
    )
    assert result.returncode != 0 and "unknown music data 'jazz'" in result.stderr


def test_a_run_carries_on_from_its_compact_train_state(genbot, home):
    env = {"GENBOT_HOME": str(home)}
    base = ["train", "gan", "--preset", "tiny", "--data", "synthetic", "--no-progress"]
    assert genbot(*base, "--epochs", "1", env=env).returncode == 0
    compact = home / "runs" / "gan-tiny" / "train-state.pt"
    blob = checkpoints.load(compact, family="gan")
    assert all(
        v.dtype != torch.float32 for v in blob["state_dict"].values() if v.is_floating_point()
    )
    out = home / "runs" / "gan-tiny-carried"
    result = genbot(*base, "--epochs", "2", "--init", str(compact), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert checkpoints.load(out / "model.pt")["step"] == 2 * blob["step"]
