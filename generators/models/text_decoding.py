"""Continuous (iteration-level) batching for the text family: rows join a running decoding
batch between steps and leave as soon as they finish, so a request that arrives mid-batch waits
one step, not the whole batch, and a short answer frees its place for the next request at once.

`Decoding` keeps the batch's KV cache, attention mask and each row's pending token. Rows that
join are prefilled together (left padding) and their caches merged with the running ones: the
shorter side is padded on the left with masked positions. Positions come from each row's own
count of real tokens, so padding never shifts a row's text. Rows that leave are cut out of the
cache, and columns no row uses any more are trimmed from the left.
"""

from __future__ import annotations

import inspect
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import torch

from generators.models.text_lm import LM, TextResult
from generators.schema import TextRequest


@dataclass
class Row:
    """One request being written: its sampler, what it has produced and why it stopped."""

    key: Hashable
    request: TextRequest
    rng: torch.Generator
    notes: list[str]
    produced: list[int] = field(default_factory=list)
    reason: str | None = None


class Decoding:
    """The rows decoding together on one model, with their cache."""

    def __init__(self, lm: LM) -> None:
        self.lm = lm
        self.rows: list[Row] = []
        self.cache: Any = None
        self.mask: torch.Tensor | None = None  # (rows, columns): 1 where a real token is cached
        # Requests that wait for the batch to empty: a model whose cache cannot be merged
        # (sliding-window layers keep only their window) is batched a whole batch at a time.
        self.waiting: list[tuple[Hashable, TextRequest]] = []
        self.steps = 0

    def __len__(self) -> int:
        return len(self.rows) + len(self.waiting)

    @torch.inference_mode()
    def join(self, keyed: list[tuple[Hashable, TextRequest]]) -> list[tuple[Hashable, TextResult]]:
        """Prefill new requests, sample their first tokens and add them to the batch; return
        the (key, TextResult) of those already finished (one-token answers)."""
        if not keyed:
            return []
        if self.rows and not _mergeable(self.cache):
            self.waiting.extend(keyed)
            return []
        lm, pad = self.lm, self.lm.tokenizer.pad_token_id
        # A row decodes at most its own max_new_tokens, so its prompt leaves that much room.
        prompts = [_prompt_ids(lm, r, max(1, lm.context - r.max_new_tokens)) for _, r in keyed]
        width = max(len(ids) for ids, _ in prompts)
        ids = torch.tensor([[pad] * (width - len(p)) + p for p, _ in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p, _ in prompts])
        device = lm.model.device
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = lm.model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            use_cache=True,
        )
        rows = [
            Row(key, request, torch.Generator().manual_seed(request.seed), notes)
            for (key, request), (_, notes) in zip(keyed, prompts, strict=True)
        ]
        self._merge(rows, _cache_of(out), mask.to(device))
        return self._sample(out.logits[:, -1, :].cpu(), rows)

    @torch.inference_mode()
    def step(self) -> list[tuple[Hashable, TextResult]]:
        """Feed every row its pending token, sample the next; return the finished rows'
        (key, TextResult), which leave the batch."""
        if not self.rows:
            return self._admit_waiting()
        assert self.mask is not None
        device = self.mask.device
        positions = self.mask.sum(-1, keepdim=True)  # each row's own count of real tokens
        ones = torch.ones((len(self.rows), 1), dtype=self.mask.dtype, device=device)
        self.mask = torch.cat([self.mask, ones], dim=1)
        tokens = torch.tensor([row.produced[-1] for row in self.rows], device=device)[:, None]
        out = _forward(self.lm.model, tokens, self.mask, positions, self.cache)
        self.cache, self.steps = _cache_of(out), self.steps + 1
        finished = self._sample(out.logits[:, -1, :].cpu(), self.rows)
        return finished + (self._admit_waiting() if not self.rows else [])

    def drop(self, keys: set[Hashable]) -> None:
        """Take rows out unfinished (their clients went away)."""
        self.waiting = [(key, request) for key, request in self.waiting if key not in keys]
        self._keep([k for k, row in enumerate(self.rows) if row.key not in keys])

    def _admit_waiting(self) -> list[tuple[Hashable, TextResult]]:
        waiting, self.waiting = self.waiting, []
        return self.join(waiting)

    def _sample(self, logits: torch.Tensor, rows: list[Row]) -> list[tuple[Hashable, TextResult]]:
        for row, row_logits in zip(rows, logits, strict=True):
            token = _sample(row_logits, row.request, row.rng)
            row.produced.append(token)
            row.reason = _finished(self.lm, row.request, row.produced, token)
        finished = [row for row in self.rows if row.reason is not None]
        self._keep([k for k, row in enumerate(self.rows) if row.reason is None])
        return [
            (
                row.key,
                _result(self.lm, row.request, row.produced, row.reason or "", row.notes),
            )
            for row in finished
        ]

    def _merge(self, rows: list[Row], cache: Any, mask: torch.Tensor) -> None:
        if not self.rows:
            self.rows, self.cache, self.mask = rows, cache, mask
            return
        assert self.mask is not None
        width = max(self.mask.shape[1], mask.shape[1])
        for old, new in zip(_layers(self.cache), _layers(cache), strict=True):
            old.keys = torch.cat([_left_pad(old.keys, width), _left_pad(new.keys, width)])
            old.values = torch.cat([_left_pad(old.values, width), _left_pad(new.values, width)])
        self.mask = torch.cat([_left_pad(self.mask, width), _left_pad(mask, width)])
        self.rows = [*self.rows, *rows]

    def _keep(self, indices: list[int]) -> None:
        if len(indices) == len(self.rows):
            return
        self.rows = [self.rows[k] for k in indices]
        if not indices:
            self.cache, self.mask = None, None
            return
        assert self.mask is not None
        chosen = torch.tensor(indices, device=self.mask.device)
        self.mask = self.mask.index_select(0, chosen)
        self.cache.batch_select_indices(chosen)
        if _mergeable(self.cache):
            # Columns that only rows now gone had used: cut them from the left.
            first = int(self.mask.any(0).int().argmax())
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]


def _layers(cache: Any) -> list[Any]:
    """Return a mergeable cache's per-layer (keys, values) holders."""
    if not _mergeable(cache):
        raise TypeError(f"cannot merge rows into a {type(cache).__name__}")
    return list(cache.layers)


def _mergeable(cache: Any) -> bool:
    """Return whether rows can join this cache: every layer keeps every position (a growing
    cache), so a row's cached columns line up with its attention mask."""
    layers = getattr(cache, "layers", None)
    return layers is not None and all(
        hasattr(layer, "keys") and not getattr(layer, "is_sliding", False) for layer in layers
    )


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Return a (rows, …, columns[, dim]) mask or cache tensor padded on the left to `width`
    columns with zeros (masked positions)."""
    axis = 1 if tensor.dim() == 2 else 2
    missing = width - tensor.shape[axis]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)


def _prompt_ids(lm: LM, request: TextRequest, room: int) -> tuple[list[int], list[str]]:
    if lm.chat:
        messages = [{"role": "user", "content": request.prompt}]
        ids = lm.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
    else:
        ids = lm.tokenizer(request.prompt)["input_ids"]
    ids, notes = list(ids), []
    if len(ids) > room:
        notes.append(f"prompt of {len(ids)} tokens cut from the left to {room} to fit the context")
        ids = ids[-room:]
    return ids or [lm.tokenizer.eos_token_id], notes


def _sample(logits: torch.Tensor, request: TextRequest, rng: torch.Generator) -> int:
    if request.temperature == 0.0:
        return int(logits.argmax())
    logits = logits.float() / request.temperature
    if request.top_k and request.top_k < logits.shape[-1]:
        cutoff = torch.topk(logits, request.top_k).values[-1]
        logits = logits.masked_fill(logits < cutoff, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if request.top_p < 1.0:
        sorted_probs, order = probs.sort(descending=True)
        keep = sorted_probs.cumsum(0) - sorted_probs < request.top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])
    return int(torch.multinomial(probs, 1, generator=rng))


def _cache_arg(model: Any) -> str:
    # transformers renamed `past_key_values` to `cache`; accept models of either generation.
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _cache_of(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _forward(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
):
    kwargs = {_cache_arg(model): cache}
    return model(
        input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **kwargs
    )


def _finished(lm: LM, request: TextRequest, produced: list[int], token: int) -> str | None:
    if token == lm.tokenizer.eos_token_id:
        return "eos"
    if request.stop:
        tail = lm.tokenizer.decode(produced[-16:], skip_special_tokens=True)
        if any(s in tail for s in request.stop):
            return "stop"
    if len(produced) >= request.max_new_tokens:
        return "length"
    return None


def _result(
    lm: LM, request: TextRequest, produced: list[int], reason: str, notes: list[str]
) -> TextResult:
    text = lm.tokenizer.decode(produced, skip_special_tokens=True)
    if reason == "stop":
        cut = min(text.find(s) for s in request.stop if s in text)
        text = text[:cut]
    return TextResult(text.strip(), len(produced), reason, request.seed, [*request.notes, *notes])
