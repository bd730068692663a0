"""Our own small GPT for the `text` family, to show training end to end: a byte-level BPE
tokenizer trained with `tokenizers` on the corpus, a GPT-2 model from `transformers`, trained by
`genbot train text`, exported as a Hugging Face folder that the service serves like any causal
LM (`generators/models/text_lm.py`).

Same interface as the other families: a frozen Config, PRESETS, build/optimizers/train_step,
preview, export_state/from_export, and the `course` the trainer runs on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

FAMILY = "text"
DEFAULT_DATA = "fortunes"
SPECIAL = ("<|endoftext|>", "<|pad|>")
PREVIEW_PROMPTS = ("The secret of", "A wise man", "Never", "Life is")


@dataclass(frozen=True)
class Config:
    """Model and optimiser settings; `vocab_size` is set by the course from its tokenizer."""

    vocab_size: int = 2048
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    n_positions: int = 96
    dropout: float = 0.1
    lr: float = 1e-3
    weight_decay: float = 0.1
    batch_size: int = 32


PRESETS = {
    "tiny": Config(vocab_size=512, n_layer=1, n_head=2, n_embd=32, n_positions=64, batch_size=8),
    "small": Config(),  # about 1M weights: trains on two CPU cores in about half an hour
    "base": Config(vocab_size=8192, n_layer=6, n_head=8, n_embd=384, n_positions=256),
}


def build(config: Config) -> Any:
    """Return a new GPT-2 model for `config`."""
    from transformers import GPT2Config, GPT2LMHeadModel

    hf = GPT2Config(
        vocab_size=config.vocab_size,
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        bos_token_id=0,
        eos_token_id=0,
        pad_token_id=1,
    )
    model = GPT2LMHeadModel(hf)
    model.genbot_config = config  # the optimiser reads its settings from here
    return model


def optimizers(model: Any) -> dict[str, torch.optim.Optimizer]:
    """Return AdamW with weight decay on matrices only (as nanoGPT does)."""
    config = getattr(model, "genbot_config", Config())
    lr, wd = config.lr, config.weight_decay
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": wd}, {"params": rest, "weight_decay": 0.0}]
    return {"lm": torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.95))}


def loss_on(model: Any, ids: torch.Tensor, pad: int) -> torch.Tensor:
    """Return the mean next-token loss over the non-padding tokens of `ids`."""
    labels = ids.masked_fill(ids == pad, -100)
    return model(input_ids=ids, attention_mask=(ids != pad).long(), labels=labels).loss


def train_step(model: Any, opt: dict, ids: torch.Tensor, pad: int) -> dict[str, float]:
    """Run one optimiser step on a batch of token ids; return the loss."""
    model.train()
    loss = loss_on(model, ids, pad)
    opt["lm"].zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt["lm"].step()
    return {"loss": float(loss.detach())}


def export_state(model: Any) -> dict[str, torch.Tensor]:
    """Return the inference weights (tied embeddings stored once, as transformers does)."""
    return {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}


def from_export(config: Config, state: dict[str, torch.Tensor]) -> Any:
    """Return a model ready to sample from `export_state` weights."""
    model = build(config)
    model.load_state_dict(state, strict=False)
    model.tie_weights()
    return model.eval()


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Return a byte-level BPE tokenizer trained on `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def preview(model: Any, tokenizer: Any, rng: torch.Generator, max_new_tokens: int = 40) -> str:
    """Return a continuation of each preview prompt, sampled from `rng`."""
    model.eval()
    lines = []
    with torch.inference_mode():
        for prompt in PREVIEW_PROMPTS:
            ids = tokenizer.encode(prompt).ids
            for _ in range(max_new_tokens):
                window = torch.tensor([ids[-model.config.n_positions :]])
                logits = model(input_ids=window).logits[0, -1] / 0.9
                token = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=rng))
                if token == 0:
                    break
                ids.append(token)
            lines.append(tokenizer.decode(ids))
    return "\n---\n".join(lines)


def perplexity(model: Any, batches: list[torch.Tensor], pad: int) -> float:
    """Return exp(mean token loss) over `batches` (the held-out figure of the model card)."""
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode():
        for ids in batches:
            labels = ids.masked_fill(ids == pad, -100)
            n = int((labels[:, 1:] != -100).sum())
            out = model(input_ids=ids, attention_mask=(ids != pad).long(), labels=labels)
            total, count = total + float(out.loss) * n, count + n
    return math.exp(total / max(1, count))


def synthetic_texts(n: int = 64) -> list[dict[str, str]]:
    """Return n short made-up sayings with a train/valid split, for tests and dry runs."""
    subjects = ("A cat", "The sea", "Every road", "An old clock", "The moon", "A kind word")
    verbs = ("remembers", "forgets", "returns to", "sings of", "waits for", "dreams of")
    objects = ("the morning", "a quiet town", "its friends", "the rain", "home", "tomorrow")
    rows = []
    for k in range(n):
        text = f"{subjects[k % 6]} {verbs[(k // 6) % 6]} {objects[(k * 5) % 6]}."
        rows.append({"text": text, "split": "valid" if k % 10 == 0 else "train"})
    return rows


class TextCourse:
    """What the text family trains on: the fortunes corpus (or synthetic sayings) as BPE ids."""

    def __init__(self, source: str, config: Config, home: Path) -> None:
        if source == "fortunes":
            path = Path(home) / "datasets" / "fortunes.jsonl"
            if not path.is_file():
                raise FileNotFoundError(f"{path} is missing: run `genbot data build text` first")
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        elif source == "synthetic":
            rows = synthetic_texts()
        else:
            raise ValueError(f"unknown text data {source!r}; use fortunes or synthetic")
        self.train = [r["text"] for r in rows if r["split"] == "train"]
        self.valid = [r["text"] for r in rows if r["split"] != "train"]
        self.name, self.size = source, len(self.train)
        self.digest = hashlib.sha256("\n".join(self.train).encode()).hexdigest()[:16]
        self.home, self.tokenizer, self.config = Path(home), None, config

    def adapt(self, config: Config) -> Config:
        """Train (or load the cached) tokenizer; return the config with its vocabulary size."""
        from tokenizers import Tokenizer

        cache = self.home / "models" / f"text-bpe-{config.vocab_size}-{self.digest}.json"
        if cache.is_file():
            self.tokenizer = Tokenizer.from_file(str(cache))
        else:
            self.tokenizer = train_tokenizer(self.train, config.vocab_size)
            cache.parent.mkdir(parents=True, exist_ok=True)
            self.tokenizer.save(str(cache))
        self.config = dataclasses.replace(config, vocab_size=self.tokenizer.get_vocab_size())
        return self.config

    def batch(self, texts: list[str]) -> torch.Tensor:
        """Return texts as one padded id tensor, each ending with <|endoftext|>."""
        limit = self.config.n_positions
        rows = [(self.tokenizer.encode(t).ids + [0])[:limit] for t in texts]
        width = max(len(r) for r in rows)
        return torch.tensor([r + [1] * (width - len(r)) for r in rows])

    def step(self, module, model: Any, opt: dict, idx, device: str) -> dict[str, float]:
        """Run one training step on the quotes `idx`."""
        ids = self.batch([self.train[i] for i in idx.tolist()])
        return train_step(model, opt, ids.to(device), pad=1)

    def preview(self, module, model: Any, device: str, path: Path) -> Path:
        """Write sampled continuations of the preview prompts as a text file."""
        text = preview(model.to("cpu"), self.tokenizer, torch.Generator().manual_seed(1234))
        model.to(device)
        path = path.with_suffix(".txt")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return path

    def held_out_perplexity(self, model: Any) -> float:
        """Return the model's perplexity on the held-out quotes."""
        chunks = [self.valid[k : k + 32] for k in range(0, len(self.valid), 32)]
        return perplexity(model.to("cpu"), [self.batch(c) for c in chunks], pad=1)

    def finish(self, module, model: Any, device: str) -> None:
        """Nothing to calibrate (the Hugging Face export is `export_folder`)."""


course = TextCourse


def export_folder(model: Any, tokenizer: Any, folder: Path) -> Path:
    """Write the model and its tokenizer as a Hugging Face folder `text_lm.load` can serve."""
    from transformers import PreTrainedTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, eos_token=SPECIAL[0], bos_token=SPECIAL[0], pad_token=SPECIAL[1]
    )
    fast.save_pretrained(folder)
    return folder
