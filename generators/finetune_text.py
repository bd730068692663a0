"""Fine-tuning a causal LM folder on community texts with LoRA (peft), privately or not.

Each record is the prompt followed by the approved text; the loss is on the text (and its end
token) only, as `/write` continues a prompt. LoRA adapters sit on the attention and MLP
projections (GPT-2's `c_attn`, `c_proj`, `c_fc`, which are Conv1D, hence `fan_in_fan_out`);
everything else stays frozen, so under DP only the adapters' per-record gradients are needed and
Opacus computes them for their Linear layers while the frozen Conv1D layers need none.
The result is a self-contained Hugging Face folder (adapter merged) plus the adapter alone.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F

from data.community import CommunityItem
from generators import privacy

log = logging.getLogger(__name__)
GPT2_TARGETS = ["c_attn", "c_proj", "c_fc"]
SAMPLE_PROMPTS = 3
DEFAULT_LR = 5e-4  # 2e-3 overfit 38 sayings in 50 steps (public perplexity +54%)


@dataclass
class Records:
    """Token ids (right-padded), labels (-100 outside the text to learn) and attention mask
    (0 on padding) of some records."""

    ids: torch.Tensor
    labels: torch.Tensor
    mask: torch.Tensor


def base_folder(source: str, home: Path) -> Path:
    """Return the Hugging Face folder to fine-tune: `tiny` builds an untrained tiny GPT of our
    own text family (for dry runs and tests); anything else must be such a folder."""
    if source == "tiny":
        return tiny_folder(home / "models" / "text-finetune-tiny")
    folder = Path(source)
    if not (folder / "config.json").is_file():
        raise ValueError(
            f"{folder}: not a Hugging Face model folder (config.json); text fine-tunes start "
            "from a served folder such as data/models/text-small (`genbot eval text --ship DIR`)"
        )
    return folder


def tiny_folder(folder: Path) -> Path:
    """Write (once) an untrained text_gpt `tiny` model with its tokenizer as an HF folder."""
    from generators.models import text_gpt

    if (folder / "config.json").is_file():
        return folder
    torch.manual_seed(0)
    course = text_gpt.TextCourse("synthetic", text_gpt.PRESETS["tiny"], folder.parent)
    model = text_gpt.build(course.adapt(text_gpt.PRESETS["tiny"]))
    return text_gpt.export_folder(model, course.tokenizer, folder)


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Return the ids the service feeds for `prompt` (the chat template where there is one,
    as generators.models.text_lm does), so training sees what serving will."""
    if tokenizer.chat_template:
        messages = [{"role": "user", "content": prompt}]
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    return list(tokenizer(prompt)["input_ids"])


def encode(items: list[CommunityItem], tokenizer: Any, limit: int) -> Records:
    """Return the items as training records of at most `limit` tokens (prompt cut first)."""
    eos = tokenizer.eos_token_id
    rows = []
    for item in items:
        prompt = prompt_ids(tokenizer, item.prompt)
        text = list(tokenizer(" " + item.text.strip())["input_ids"]) + [eos]
        prompt = prompt[-max(1, limit // 2) :]
        ids = (prompt + text)[:limit]
        rows.append((ids, [-100] * len(prompt) + ids[len(prompt) :]))
    return pad(rows, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)


def encode_plain(texts: list[str], tokenizer: Any, limit: int) -> Records:
    """Return texts as records whose every token (and the end token) is scored."""
    eos = tokenizer.eos_token_id
    rows = []
    for text in texts:
        ids = (list(tokenizer(text)["input_ids"]) + [eos])[:limit]
        rows.append((ids, list(ids)))
    return pad(rows, tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos)


def pad(rows: list[tuple[list[int], list[int]]], pad_id: int) -> Records:
    """Return the rows right-padded to one width (padding is never scored)."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.tensor([r + [pad_id] * (width - len(r)) for r, _ in rows])
    labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r, _ in rows])
    return Records(ids, labels, mask)


def record_losses(model: Any, ids, labels, mask) -> torch.Tensor:
    """Return each record's mean next-token loss over its scored tokens (one value per row, so
    each record's gradient depends on that record only)."""
    logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    target = labels[:, 1:]
    nll = F.cross_entropy(logits.transpose(1, 2), target.clamp(min=0), reduction="none")
    mask = (target != -100).to(nll.dtype)
    return (nll * mask).sum(1) / mask.sum(1).clamp(min=1.0)


@torch.inference_mode()
def perplexity(model: Any, records: Records, batch: int = 32) -> float:
    """Return exp(mean loss per scored token) over the records."""
    model.eval()
    total, count = 0.0, 0
    for k in range(0, len(records.ids), batch):
        part = slice(k, k + batch)
        ids, labels, mask = records.ids[part], records.labels[part], records.mask[part]
        n = (labels[:, 1:] != -100).sum(1)
        total += float((record_losses(model, ids, labels, mask) * n).sum())
        count += int(n.sum())
    return math.exp(total / max(1, count))


def with_lora(model: Any, rank: int) -> Any:
    """Return `model` wrapped with trainable LoRA adapters (everything else frozen)."""
    from peft import LoraConfig, get_peft_model

    gpt2 = model.config.model_type == "gpt2"
    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules=GPT2_TARGETS if gpt2 else None,  # None: peft's default for the type
        fan_in_fan_out=gpt2,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def train(model: Any, records: Records, args: Any, settings: Any) -> tuple[list, dict | None]:
    """Train the adapters of `model` on the records; return (loss history, privacy summary)."""
    from torch.utils.data import DataLoader, TensorDataset

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr or DEFAULT_LR, weight_decay=0.0)
    dataset = TensorDataset(records.ids, records.labels, records.mask)
    loader = DataLoader(dataset, batch_size=min(args.batch_size, len(dataset)), shuffle=True)
    run = None
    model.train()  # Opacus records activations in training mode only
    if settings is not None:
        run = privacy.make_private(model, optimizer, loader, settings, args.epochs, args.seed)
        optimizer, loader = run.optimizer, run.loader
    history, step = [], 0
    for epoch in range(args.epochs):
        for ids, labels, mask in loader:
            if len(ids) == 0:
                privacy.noise_only_step(run, params)
                continue
            losses = record_losses(model, ids, labels, mask)
            # Sum over the batch's records / its size: the "mean" reduction Opacus expects.
            loss = losses.sum() / len(losses)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            history.append({"step": step, "epoch": epoch, "loss": float(loss.detach())})
            if args.max_steps and step >= args.max_steps:
                break
        if args.max_steps and step >= args.max_steps:
            break
    summary = run.summary() if run is not None else None
    if run is not None:
        run.close()
    return history, summary


def finetune(args: Any, items: list[CommunityItem], settings: Any, out: Path, home: Path):
    """Fine-tune the base folder on `items`; write the merged folder and `adapter/` into `out`;
    return (history, privacy summary, details for the card)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = base_folder(args.finetune_from, home)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source)
    limit = min(context_of(model), 512)
    records = encode(items, tokenizer, limit)
    model = with_lora(model, args.lora_rank)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    history, summary = train(model, records, args, settings)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter")
    merged = model.merge_and_unload()
    merged.save_pretrained(out)
    tokenizer.save_pretrained(out)
    details = {
        "base": str(source),
        "method": f"LoRA rank {args.lora_rank} on {', '.join(targets(model))}, merged",
        "lr": args.lr or DEFAULT_LR,
        "trainable_weights": trainable,
        "weights": sum(p.numel() for p in merged.parameters()),
    }
    return history, summary, details


def targets(model: Any) -> list[str]:
    """Return the module names the LoRA adapters of a peft model sit on."""
    names = model.peft_config["default"].target_modules
    return sorted(names) if names else []


def context_of(model: Any) -> int:
    """Return the model's context length in tokens."""
    config = model.config
    return int(getattr(config, "n_positions", None) or config.max_position_embeddings)


def public_texts(source: str, home: Path) -> list[str]:
    """Return the public held-out texts: the fortunes validation quotes, or synthetic ones."""
    from generators.models import text_gpt

    if source == "synthetic":
        return [r["text"] for r in text_gpt.synthetic_texts() if r["split"] != "train"]
    path = home / "datasets" / "fortunes.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `genbot data build text` first")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["text"] for r in rows if r["split"] != "train"]


def measure(
    folder: Path, home: Path, public: list[str], train: list, held: list, seed: int
) -> dict[str, Any]:
    """Return a text model folder's metrics: perplexity on public held-out texts, on held-out
    and training community items (text given prompt), and continuations of held-out prompts."""
    from generators.models import text_lm
    from generators.schema import TextRequest

    lm = text_lm.load(folder, home)
    limit = min(lm.context, 512)
    metrics: dict[str, Any] = {
        "perplexity_public_held_out": perplexity(
            lm.model, encode_plain(public, lm.tokenizer, limit)
        )
    }
    for name, items in (("community_held_out", held), ("community_train", train)):
        if items:
            records = encode(items, lm.tokenizer, limit)
            metrics[f"perplexity_{name}"] = perplexity(lm.model, records)
    requests = [
        TextRequest.parse({"prompt": item.prompt, "max_new_tokens": 30, "seed": seed})
        for item in held[:SAMPLE_PROMPTS]
    ]
    results = text_lm.generate(lm, requests) if requests else []
    metrics["samples"] = [
        {"prompt": r.prompt, "text": out.text} for r, out in zip(requests, results, strict=True)
    ]
    return metrics


def compare(args: Any, out: Path, train: list, held: list, home: Path) -> tuple[dict, dict]:
    """Return (base metrics, fine-tuned metrics) measured the same way."""
    public = public_texts(args.eval_data, home)
    base = base_folder(args.finetune_from, home)
    before = measure(base, home, public, train, held, args.seed)
    after = measure(out, home, public, train, held, args.seed)
    before["public_texts"] = after["public_texts"] = len(public)
    return before, after
