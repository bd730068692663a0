"""The GAN's training aids: the discriminator's augmentations and the low-resolution paired term."""

import dataclasses

import numpy as np
import pytest
import torch

from generators.images import to_uint8
from generators.models import augment, gan
from generators.text_encoder import hashed_embeddings


def ramp(n=3, size=16):
    """Images whose every pixel is distinct, so where a pixel went can be read back."""
    values = torch.arange(n * 3 * size * size, dtype=torch.float32).reshape(n, 3, size, size)
    return values / values.max() * 2 - 1


def test_policy_names_are_checked():
    assert augment.parse("") == ()
    assert augment.parse(" translation , cutout ") == ("translation", "cutout")
    with pytest.raises(ValueError, match="unknown augmentation 'color'"):
        augment.parse("translation,color")


def test_translation_shifts_whole_images_and_fills_white():
    torch.manual_seed(0)
    images = ramp(8)
    moved = augment.translate(images, ratio=0.125)
    assert moved.shape == images.shape
    for original, shifted in zip(images, moved, strict=True):
        # Every pixel is either the white fill or a pixel of the same image, and the kept
        # pixels form one shifted rectangle: find the shift from the pixel at the centre.
        kept = shifted != 1.0
        assert bool(torch.isin(shifted[kept], original).all())
        y, x = torch.nonzero(original[0] == shifted[0, 8, 8])[0].tolist()
        dy, dx = y - 8, x - 8
        assert max(abs(dy), abs(dx)) <= 2
        src = original[:, max(dy, 0) : 16 + min(dy, 0), max(dx, 0) : 16 + min(dx, 0)]
        dst = shifted[:, max(-dy, 0) : 16 + min(-dy, 0), max(-dx, 0) : 16 + min(-dx, 0)]
        assert torch.equal(src, dst)
    assert not torch.equal(moved, images)  # 8 images, 25 shifts each: some moved


def test_cutout_paints_one_square_per_image():
    torch.manual_seed(0)
    images = ramp(6)
    cut = augment.cutout(images, ratio=0.5)
    for original, out in zip(images, cut, strict=True):
        hole = (out != original).any(0)
        ys, xs = torch.nonzero(hole, as_tuple=True)
        assert (ys.max() - ys.min() + 1, xs.max() - xs.min() + 1) == (8, 8)
        assert int(hole.sum()) == 64 and bool((out[:, hole] == 1.0).all())


def test_augmentations_pass_gradients_to_the_generator():
    images = ramp(4).requires_grad_(True)
    out = augment.apply(images, ("translation", "cutout"))
    out.sum().backward()
    # Pixels shown to the discriminator get gradient 1; shifted-out and cut pixels get 0.
    assert images.grad is not None and set(images.grad.unique().tolist()) <= {0.0, 1.0}
    assert float(images.grad.sum()) > 0


def test_a_bad_policy_is_refused_when_the_model_is_built():
    config = dataclasses.replace(gan.PRESETS["tiny"], augment="rotate")
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'"):
        gan.build(config)


def test_the_paired_term_pulls_images_to_their_captions():
    # Two captions, two flat colours: with the paired term alone (no discriminator updates
    # matter at this scale), the generator learns which colour goes with which caption.
    torch.manual_seed(0)
    config = dataclasses.replace(
        gan.PRESETS["tiny"], augment="translation,cutout", pair_weight=50.0, pair_size=4, lr_g=3e-3
    )
    model = gan.build(config)
    opt = gan.optimizers(model)
    captions = ["red square", "blue square"]
    embeddings = torch.from_numpy(hashed_embeddings(captions)).repeat(4, 1)
    colours = torch.tensor([[1.0, -1.0, -1.0], [-1.0, -1.0, 1.0]]).repeat(4, 1)
    images = colours[:, :, None, None].expand(-1, -1, 16, 16).contiguous()
    first = gan.train_step(model, opt, images, embeddings)
    for _ in range(60):
        last = gan.train_step(model, opt, images, embeddings)
    assert last["pair_l1"] < first["pair_l1"] / 3
    out = model.generator.eval()(torch.randn(2, config.noise_dim), embeddings[:2]).mean((2, 3))
    assert out[0, 0] > out[0, 2] and out[1, 2] > out[1, 0]


def test_a_pure_gan_reports_no_paired_term():
    torch.manual_seed(0)
    model = gan.build(gan.PRESETS["tiny"])
    e = torch.from_numpy(hashed_embeddings(["a", "b"]))
    losses = gan.train_step(model, gan.optimizers(model), torch.rand(2, 3, 16, 16) * 2 - 1, e)
    assert losses["pair_l1"] == 0.0 and all(torch.isfinite(torch.tensor(list(losses.values()))))


def test_the_embedding_scale_reaches_both_networks_and_old_checkpoints_keep_1(tmp_path):
    from data import checkpoints

    torch.manual_seed(0)
    plain = gan.build(gan.PRESETS["tiny"])
    scaled_config = dataclasses.replace(gan.PRESETS["tiny"], embed_scale=4.0)
    scaled = gan.build(scaled_config)
    scaled.load_state_dict(plain.state_dict())  # same weights: only the scale differs
    e = torch.from_numpy(hashed_embeddings(["red heart"]))
    noise, images = torch.randn(1, 16), torch.rand(1, 3, 16, 16)
    plain.eval(), scaled.eval()
    assert torch.allclose(scaled.generator(noise, e), plain.generator(noise, e * 4.0))
    assert torch.allclose(scaled.discriminator(images, e), plain.discriminator(images, e * 4.0))
    # A checkpoint written before the setting existed has no embed_scale: it reads as 1.0.
    config = {k: v for k, v in dataclasses.asdict(scaled_config).items() if k != "embed_scale"}
    assert checkpoints.config_from({"config": config}, gan.Config).embed_scale == 1.0
    assert gan.PRESETS["small"].embed_scale == pytest.approx(384**0.5)


def test_a_request_gets_the_same_pixels_alone_and_in_a_big_batch():
    # The batch goes through in slices on a CPU, and requests straddle them (3 or 5 images).
    torch.manual_seed(0)
    model = gan.build(gan.PRESETS["tiny"]).eval()
    e = torch.from_numpy(hashed_embeddings([f"prompt {k}" for k in range(10)]))
    counts = [3 if k % 2 else 5 for k in range(10)]
    assert sum(counts) > 2 * gan.CPU_SLICE
    together = gan.generate_batch(
        model, e, counts, [torch.Generator().manual_seed(k) for k in range(10)]
    )
    for k, images in enumerate(together):
        alone = gan.generate(model, e[k : k + 1], counts[k], torch.Generator().manual_seed(k))
        # Floats may differ in the last bit (the kernels block a batch differently); the pixels
        # served do not.
        assert torch.allclose(images, alone, atol=1e-6), k
        assert np.array_equal(to_uint8(images), to_uint8(alone)), k


class Recorder:
    """A family that only keeps what the course hands its train_step."""

    def train_step(self, model, opt, images, embeddings, generator):
        self.embeddings = embeddings
        return {}


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_the_course_shows_short_prompts_in_the_share_the_config_asks(tmp_path, share):
    from generators.train import ImageCourse

    config = dataclasses.replace(gan.PRESETS["tiny"], short_prompts=share)
    course = ImageCourse("synthetic", config, tmp_path)
    data = course.data
    assert data.short.shape == data.embeddings.shape
    # Synthetic captions are "<shape>, <colour>, ..."; the short prompt is the first part.
    assert torch.equal(
        data.short[0], torch.from_numpy(data.encode([data.captions[0].split(",")[0]]))[0]
    )
    recorder, idx = Recorder(), torch.arange(8)
    course.step(recorder, gan.build(config), None, idx, "cpu")
    expected = data.short[idx] if share else data.embeddings[idx]
    assert torch.equal(recorder.embeddings, expected)


def test_balanced_weights_give_every_group_the_same_total():
    from generators.train import balanced_weights

    groups = ["hand"] * 6 + ["pizza", "rocket"]
    weights = balanced_weights(groups)
    assert weights.sum() == pytest.approx(1.0)
    totals = {g: weights[[k for k, x in enumerate(groups) if x == g]].sum() for g in set(groups)}
    assert totals == pytest.approx({"hand": 1 / 3, "pizza": 1 / 3, "rocket": 1 / 3})
    assert weights[0] == pytest.approx(weights[5])


@pytest.mark.parametrize("balance", [False, True])
def test_the_course_orders_an_epoch_by_the_config(tmp_path, balance):
    from generators.train import ImageCourse

    config = dataclasses.replace(gan.PRESETS["tiny"], balance_names=balance)
    course = ImageCourse("synthetic", config, tmp_path)
    # One group holds 36 of the 48 items (skin tones do this to a hand, on a smaller scale).
    course.data.groups = ["hand"] * 6 * 6 + [f"thing {k}" for k in range(course.size - 36)]
    draws = torch.cat(
        [course.order(course.size, torch.Generator().manual_seed(s)) for s in range(40)]
    )
    assert draws.min() >= 0 and draws.max() < course.size
    share_of_hands = float((draws < 36).float().mean())
    if balance:
        # 13 groups (the hands and 12 things), equally likely: the hands draw 1/13, not 36/48.
        expected = 1 / (course.size - 35)
        assert share_of_hands == pytest.approx(expected, abs=0.03)
    else:
        # A permutation: every item exactly once per epoch.
        assert torch.equal(draws[: course.size].sort().values, torch.arange(course.size))
        assert share_of_hands == pytest.approx(36 / course.size)
