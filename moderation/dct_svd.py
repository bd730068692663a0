"""The DWT-DCT-SVD watermark of the `invisible-watermark` package, with every block at once.

The package walks the 4×4 blocks of an image's Haar approximation one by one in Python: a DCT,
an SVD, the largest singular value quantised to carry a bit, an inverse DCT, for each of the
1,024 blocks of a 256-px image. That loop took 27 ms an image, three quarters of a whole GAN
batch's time in the service (`bench/service.py`): the watermark, not the model, set the
service's throughput, and it does not batch. Here the blocks are one (N, 4, 4) stack: the DCT is
a product with the orthonormal DCT-II matrix (what OpenCV's `dct` computes on a 4×4 float
block) and numpy's SVD runs over the stack in one call. Same bits in the same blocks, so either
side reads what the other writes (tests/moderation/test_dct_svd.py checks both ways against
the package).

One difference, on purpose: the package rebuilds the image with the horizontal and vertical
detail bands swapped (`idwt2((ca, (v, h, d)))`), which disturbs any image with detail at the
finest scale. genbot's tiles are whole-factor enlargements, whose finest details are zero, so
the two agree there; elsewhere this one leaves the details where they were.

numpy, OpenCV and PyWavelets load inside the functions: the bot imports moderation modules.
"""

from __future__ import annotations

import functools
from typing import Any

BLOCK = 4


@functools.cache
def dct_matrix(n: int = BLOCK) -> Any:
    """Return the orthonormal DCT-II matrix C (n×n): dct(X) = C X Cᵀ, idct(Y) = Cᵀ Y C."""
    import numpy as np

    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    matrix = np.sqrt(2 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    matrix[0] /= np.sqrt(2)
    return matrix


def blocks(frame: Any) -> Any:
    """Return the whole BLOCK×BLOCK blocks of a 2-D array as an (N, BLOCK, BLOCK) stack, row by
    row (the package's order: the k-th block carries bit k mod n)."""
    rows, columns = frame.shape[0] // BLOCK, frame.shape[1] // BLOCK
    whole = frame[: rows * BLOCK, : columns * BLOCK]
    return whole.reshape(rows, BLOCK, columns, BLOCK).swapaxes(1, 2).reshape(-1, BLOCK, BLOCK)


def unblocks(stack: Any, rows: int, columns: int) -> Any:
    """Return the (rows·BLOCK, columns·BLOCK) array a `blocks` stack came from."""
    grid = stack.reshape(rows, columns, BLOCK, BLOCK).swapaxes(1, 2)
    return grid.reshape(rows * BLOCK, columns * BLOCK)


def _block_bits(count: int, bits: list[int]) -> Any:
    import numpy as np

    return np.asarray(bits, np.float64)[np.arange(count) % len(bits)]


def embed_frame(frame: Any, bits: list[int], scale: float) -> Any:
    """Return a copy of a Haar approximation with bit k mod n of `bits` in its k-th block: the
    block's largest singular value (of its DCT) moved to the quarter (bit 0) or three quarters
    (bit 1) of its step of `scale`. Rows and columns past the last whole block stay."""
    import numpy as np

    c = dct_matrix()
    stack = blocks(np.asarray(frame, np.float64))
    u, s, vt = np.linalg.svd(c @ stack @ c.T)
    s[:, 0] = (s[:, 0] // scale + 0.25 + 0.5 * _block_bits(len(stack), bits)) * scale
    marked = c.T @ (u @ (s[:, :, None] * vt)) @ c
    out = np.array(frame, np.float64)
    rows, columns = frame.shape[0] // BLOCK, frame.shape[1] // BLOCK
    out[: rows * BLOCK, : columns * BLOCK] = unblocks(marked, rows, columns)
    return out


def frame_votes(frame: Any, count: int, scale: float) -> list[float]:
    """Return, for each of `count` bits, the share of the blocks carrying it that read 1."""
    import numpy as np

    c = dct_matrix()
    stack = blocks(np.asarray(frame, np.float64))
    largest = np.linalg.svd(c @ stack @ c.T, compute_uv=False)[:, 0]
    ones = (largest % scale) > scale * 0.5
    which = np.arange(len(stack)) % count
    return [float(ones[which == bit].mean()) for bit in range(count)]


def embed_luma(bgr: Any, bits: list[int], scale: float) -> Any:
    """Return a float BGR image carrying `bits` in its luminance (the package's `encode` with
    scales [scale, 0, 0]); `bgr` is float, (H, W, 3)."""
    import cv2
    import numpy as np
    import pywt

    rows, columns = bgr.shape[0] // 4 * 4, bgr.shape[1] // 4 * 4
    yuv = cv2.cvtColor(np.asarray(bgr, np.float32), cv2.COLOR_BGR2YUV)
    approximation, details = pywt.dwt2(yuv[:rows, :columns, 0], "haar")
    marked = embed_frame(approximation, bits, scale)
    yuv[:rows, :columns, 0] = pywt.idwt2((marked, details), "haar")
    return cv2.cvtColor(yuv, cv2.COLOR_YUV2BGR)


def luma_votes(bgr: Any, count: int, scale: float) -> list[float]:
    """Return the shares of `frame_votes` for a uint8 BGR image, read as the package reads it
    (8-bit YUV, the Haar approximation of the luminance)."""
    import cv2
    import numpy as np
    import pywt

    luma = cv2.cvtColor(np.asarray(bgr, np.uint8), cv2.COLOR_BGR2YUV)[:, :, 0]
    rows, columns = luma.shape[0] // 4 * 4, luma.shape[1] // 4 * 4
    approximation, _ = pywt.dwt2(luma[:rows, :columns], "haar")
    return frame_votes(approximation, count, scale)
