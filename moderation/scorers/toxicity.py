"""Detoxify, loaded through the library's own code, scoring batches in overlapping token windows.

Where the machine is online, `Detoxify(model_type)` downloads its checkpoint and Hugging Face
config as the library does. Offline, `checkpoint` (a Detoxify `.ckpt`) and `config_path` (the
matching Hugging Face config + tokenizer folder) load it from disk. Detoxify's own `predict`
truncates at the model's window (512 tokens), so a slur at the end of a long text would be cut
off; this scorer slides overlapping windows over every text and keeps the maximum per label.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from moderation.labels import DETOXIFY_LABELS

log = logging.getLogger(__name__)


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:10]


# The file names of Detoxify's release checkpoints (detoxify.detoxify.MODEL_URLS; a test keeps
# them equal), so that finding them needs no torch import.
CHECKPOINT_FILES = {
    "original": "toxic_original-c1212f89.ckpt",
    "unbiased": "toxic_debiased-c7548aa0.ckpt",
    "multilingual": "multilingual_debiased-0b549669.ckpt",
    "original-small": "original-albert-0e1d6498.ckpt",
    "unbiased-small": "unbiased-albert-c8519128.ckpt",
}


def torch_hub_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Return torch.hub.get_dir() as torch computes it, without importing torch."""
    if environ.get("TORCH_HOME"):
        return Path(environ["TORCH_HOME"]).expanduser() / "hub"
    cache = environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(cache) / "torch" / "hub"


def weights_path(model_type: str, configured: str | None) -> Path:
    """Return where Detoxify's weights for `model_type` are (or would be) on this machine."""
    if configured:
        return Path(configured)
    return torch_hub_dir() / "checkpoints" / CHECKPOINT_FILES[model_type]


def windows(ids: list[int], size: int, stride: int) -> list[list[int]]:
    """Return overlapping windows of at most `size` token ids, `stride` apart, covering `ids`."""
    if len(ids) <= size:
        return [ids]
    starts = list(range(0, len(ids) - size, stride)) + [len(ids) - size]
    return [ids[s : s + size] for s in starts]


def choose_precision(wanted: str, device: str, native_bf16: bool) -> str:
    """Return the arithmetic Detoxify runs in: `wanted` unless it is `auto`, which takes bf16
    where the device computes it natively (a GPU, or a CPU with AVX512-BF16 or AMX) and fp32
    elsewhere, where bf16 would be emulated and slower."""
    if wanted != "auto":
        return wanted
    return "bf16" if native_bf16 else "fp32"


def native_bf16(device: str) -> bool:
    """Return whether `device` computes bf16 matrix products natively."""
    import torch

    try:
        if device.startswith("cuda"):
            return bool(torch.cuda.is_bf16_supported())
        return device == "cpu" and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # an older torch, or no oneDNN: stay in fp32
        return False


class DetoxifyScorer:
    """Scores texts with a Detoxify model: `toxicity`, `threat`, `insult` … in [0, 1]."""

    name = "detoxify"
    window_words = None

    def __init__(
        self,
        model_type: str = "unbiased",
        checkpoint: str | None = None,
        config_path: str | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        precision: str = "auto",
    ) -> None:
        self.model_type = model_type
        self.precision = precision  # resolved to fp32 or bf16 by load
        self.checkpoint = checkpoint
        self.config_path = config_path
        self.device = device
        self.batch_size = batch_size
        self._detoxify: Any = None
        self.version = f"detoxify-{model_type}"

    def load(self) -> None:
        """Load the checkpoint through `detoxify.Detoxify`; raises when it cannot be had."""
        if self._detoxify is not None:
            return
        import torch
        from detoxify import Detoxify

        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if self.checkpoint and not Path(self.checkpoint).is_file():
            raise FileNotFoundError(f"Detoxify checkpoint {self.checkpoint} does not exist")
        self._detoxify = Detoxify(
            model_type=self.model_type,
            checkpoint=self.checkpoint,
            device=device,
            huggingface_config_path=self.config_path,
        )
        self._detoxify.model.eval()
        if self.checkpoint:
            self.version = f"detoxify-local-{_file_digest(self.checkpoint)}"
        self.precision = choose_precision(self.precision, device, native_bf16(device))
        if self.precision == "bf16":
            # Batches of 32 ran about 3x faster in bf16 than in fp32 on this project's CPU
            # (AVX512-BF16) and moved scores by about 0.001 (bench/moderation.py); a verdict's
            # model version says which arithmetic made it.
            self.version += "+bf16"
            # Autocast would otherwise cast every weight to bf16 again on every forward, which
            # was most of a one-prompt screen (keeping them made it 2x faster). Linear layers are
            # kept in bf16; layer norms, softmax and embeddings stay fp32 under autocast.
            for module in self._detoxify.model.modules():
                if isinstance(module, torch.nn.Linear):
                    module.to(torch.bfloat16)
        log.info("loaded %s on %s", self.version, device)

    @property
    def max_tokens(self) -> int:
        """Return the longest input (special tokens included) the model accepts."""
        config = self._detoxify.model.config
        positions = getattr(config, "max_position_embeddings", 512)
        if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
            positions -= 2  # these reserve two positions for the padding offset
        return min(512, positions, self._detoxify.tokenizer.model_max_length)

    def _window_batches(self, texts: list[str]) -> tuple[list[list[int]], list[int]]:
        tokenizer = self._detoxify.tokenizer
        # Every Detoxify architecture (BERT, RoBERTa, XLM-R, ALBERT) frames one text as
        # cls + ids + sep.
        cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        size = self.max_tokens - 2
        stride = max(1, size * 3 // 4)
        ids = tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        inputs, owners = [], []
        for owner, text_ids in enumerate(ids):
            for window in windows(text_ids, size, stride):
                inputs.append([cls, *window, sep])
                owners.append(owner)
        return inputs, owners

    def score(self, texts: list[str]) -> list[dict[str, float]]:
        """Return per text the maximum score per label over its token windows."""
        self.load()
        import torch

        if not texts:
            return []
        inputs, owners = self._window_batches(texts)
        names = self._detoxify.class_names
        keep = [(i, n) for i, n in enumerate(names) if n in DETOXIFY_LABELS]
        results: list[dict[str, float]] = [dict.fromkeys((n for _, n in keep), 0.0) for _ in texts]
        # Longest first, so each batch pads to similar lengths.
        order = sorted(range(len(inputs)), key=lambda k: -len(inputs[k]))
        pad = self._detoxify.tokenizer.pad_token_id or 0
        model = self._detoxify.model
        device_type = self._detoxify.model.device.type
        bf16 = torch.autocast(device_type, torch.bfloat16, enabled=self.precision == "bf16")
        with torch.inference_mode(), bf16:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                width = max(len(inputs[k]) for k in chunk)
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, k in enumerate(chunk):
                    ids[row, : len(inputs[k])] = torch.tensor(inputs[k])
                    mask[row, : len(inputs[k])] = 1
                logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device))
                probabilities = torch.sigmoid(logits[0].float()).cpu().tolist()
                for row, k in enumerate(chunk):
                    scores = results[owners[k]]
                    for column, label in keep:
                        scores[label] = max(scores[label], probabilities[row][column])
        return results
