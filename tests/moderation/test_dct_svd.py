"""The vectorised DWT-DCT-SVD watermark (`moderation/dct_svd.py`) against the
`invisible-watermark` package it re-implements: the same pixels written, the same votes read,
each side reading what the other wrote."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import pywt

from moderation import dct_svd, watermark

SCALE, BITS = watermark.SCALE, watermark.PAYLOAD_BITS


def package_class():
    """The package's embedder class, loaded by path (its __init__ would import torch)."""
    spec = importlib.util.find_spec("imwatermark")
    path = Path(next(iter(spec.submodule_search_locations))) / "dwtDctSvd.py"
    module_spec = importlib.util.spec_from_file_location("_test_imwatermark_svd", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.EmbedDwtDctSvd


def package_votes(bgr: np.ndarray) -> list[float]:
    luma = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV)[:, :, 0]
    h, w = luma.shape
    approximation, _ = pywt.dwt2(luma[: h // 4 * 4, : w // 4 * 4], "haar")
    decoder = package_class()([], wmLen=BITS, scales=[SCALE, 0, 0])
    blocks = decoder.decode_frame(approximation, SCALE, [[] for _ in range(BITS)])
    return [float(np.mean(b)) for b in blocks]


def enlarged(seed: int, side: int = 64, factor: int = 4) -> np.ndarray:
    """A float BGR image as genbot marks them: a model's tile enlarged by a whole factor."""
    small = np.random.default_rng(seed).integers(0, 250, (side, side, 3)).astype(np.float32)
    return np.repeat(np.repeat(small, factor, 0), factor, 1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def test_the_dct_matrix_is_opencvs_dct():
    block = np.random.default_rng(0).normal(size=(4, 4))
    c = dct_svd.dct_matrix()
    assert np.allclose(c @ block @ c.T, cv2.dct(block))
    assert np.allclose(c.T @ cv2.dct(block) @ c, block)


def test_blocks_are_taken_row_by_row_and_put_back():
    frame = np.arange(8 * 12, dtype=float).reshape(8, 12)
    stack = dct_svd.blocks(frame)
    assert stack.shape == (6, 4, 4)
    assert np.array_equal(stack[1], frame[0:4, 4:8]) and np.array_equal(stack[3], frame[4:8, 0:4])
    assert np.array_equal(dct_svd.unblocks(stack, 2, 3), frame)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_it_writes_the_pixels_the_package_writes(seed):
    bgr = enlarged(seed)
    bits = list(np.random.default_rng(seed + 10).integers(0, 2, BITS))
    theirs = package_class()(bits, wmLen=BITS, scales=[SCALE, 0, 0]).encode(bgr.copy())
    ours = dct_svd.embed_luma(bgr.copy(), bits, SCALE)
    a, b = to_uint8(theirs), to_uint8(ours)
    assert (a == b).mean() > 0.999 and np.abs(a.astype(int) - b).max() <= 1


@pytest.mark.parametrize("seed", [0, 1])
def test_each_reads_what_the_other_wrote_with_the_same_votes(seed):
    bgr = enlarged(seed)
    bits = list(np.random.default_rng(seed + 20).integers(0, 2, BITS))
    marked = {
        "package": to_uint8(package_class()(bits, wmLen=BITS, scales=[SCALE, 0, 0]).encode(bgr)),
        "ours": to_uint8(dct_svd.embed_luma(bgr, bits, SCALE)),
    }
    for image in marked.values():
        ours, theirs = dct_svd.luma_votes(image, BITS, SCALE), package_votes(image)
        assert ours == pytest.approx(theirs)
        assert [int(v > 0.5) for v in ours] == bits


def test_an_unmarked_image_reads_as_noise_the_same_way():
    image = to_uint8(np.random.default_rng(5).integers(0, 256, (260, 300, 3)))
    ours, theirs = dct_svd.luma_votes(image, BITS, SCALE), package_votes(image)
    assert ours == pytest.approx(theirs) and 0.3 < np.mean(ours) < 0.7


def test_details_stay_where_they_were():
    """The package swaps the horizontal and vertical detail bands when it rebuilds an image;
    here an image with fine detail keeps it (only the approximation changes)."""
    bgr = np.random.default_rng(7).integers(0, 250, (256, 256, 3)).astype(np.float32)
    ours = dct_svd.embed_luma(bgr, [1, 0] * 31 + [1], SCALE)
    luma = lambda x: cv2.cvtColor(np.asarray(x, np.float32), cv2.COLOR_BGR2YUV)[:, :, 0]  # noqa: E731
    _, before = pywt.dwt2(luma(bgr), "haar")
    _, after = pywt.dwt2(luma(ours), "haar")
    theirs = package_class()([1, 0] * 31 + [1], wmLen=BITS, scales=[SCALE, 0, 0]).encode(bgr)
    _, swapped = pywt.dwt2(luma(theirs), "haar")
    # Within the colour conversions' float error here; tens of levels off in the package's.
    assert max(np.abs(b - a).max() for b, a in zip(before, after, strict=True)) < 0.1
    assert max(np.abs(b - a).max() for b, a in zip(before, swapped, strict=True)) > 10
