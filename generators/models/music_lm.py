"""Folk tunes over ABC notation: a small decoder-only transformer, conditioned on the header.

A tune is `<bos> <R:jig> <M:6/8> <K:G> <L:1/8> a b c … <eos>`: four header tokens (rhythm, meter,
key, unit note length) followed by the ABC body one character at a time (folk-rnn style, with
characters instead of ABC tokens so that any body the data has can be written). The vocabulary
travels inside the checkpoint as a list of strings, so `weights_only=True` loading works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from generators import abc_bars

FAMILY = "music"
DEFAULT_DATA = "folk"
PREVIEW_HEADERS = (
    ("reel", "4/4", "D", "1/8"),
    ("jig", "6/8", "G", "1/8"),
    ("hornpipe", "4/4", "A", "1/8"),
    ("air", "3/4", "Dm", "1/8"),
)
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


@dataclass(frozen=True)
class Config:
    """Sizes and training settings of one music model."""

    vocab: tuple[str, ...] = field(default=SPECIALS)
    context: int = 512
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.1
    lr: float = 3e-4
    batch_size: int = 32


PRESETS = {
    "tiny": Config(context=64, n_layer=1, n_head=2, n_embd=16, dropout=0.0, lr=3e-3, batch_size=4),
    "small": Config(),
    "base": Config(context=1024, n_layer=8, n_head=8, n_embd=384, batch_size=64),
}


def header_tokens(rhythm: str, meter: str, key: str, unit: str) -> list[str]:
    """Return the four conditioning tokens of a tune."""
    return [f"<R:{rhythm}>", f"<M:{meter}>", f"<K:{key}>", f"<L:{unit}>"]


def build_vocab(tunes: list) -> tuple[str, ...]:
    """Return the vocabulary for tunes with rhythm/meter/key/unit/body attributes."""
    symbols: set[str] = set()
    for tune in tunes:
        symbols.update(header_tokens(tune.rhythm, tune.meter, tune.key, tune.unit))
        symbols.update(tune.body)
    return SPECIALS + tuple(sorted(symbols))


class Codec:
    """Maps tunes to token ids and back, for one vocabulary."""

    def __init__(self, vocab: tuple[str, ...]) -> None:
        self.vocab = vocab
        self.index = {token: k for k, token in enumerate(vocab)}
        self.pad, self.bos, self.eos, self.unk = (self.index[s] for s in SPECIALS)

    def header(self, rhythm: str, meter: str, key: str, unit: str) -> list[int]:
        """Return <bos> and the header ids (an unknown value becomes <unk>)."""
        return [self.bos] + [
            self.index.get(t, self.unk) for t in header_tokens(rhythm, meter, key, unit)
        ]

    def encode(self, tune) -> list[int]:
        """Return a whole tune's ids, <eos> included."""
        body = [self.index.get(c, self.unk) for c in tune.body]
        return self.header(tune.rhythm, tune.meter, tune.key, tune.unit) + body + [self.eos]

    def decode(self, ids: list[int]) -> str:
        """Return the ABC body of ids (specials and header tokens dropped)."""
        # "<" alone is ABC (a broken rhythm); specials and header tokens are longer.
        return "".join(t for t in (self.vocab[i] for i in ids) if len(t) == 1)


class Block(nn.Module):
    """Pre-norm transformer block with causal self-attention."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.heads, self.dropout = config.n_head, config.dropout
        self.norm1, self.norm2 = nn.LayerNorm(config.n_embd), nn.LayerNorm(config.n_embd)
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(config.n_embd, 4 * config.n_embd),
            nn.GELU(),
            nn.Linear(4 * config.n_embd, config.n_embd),
            nn.Dropout(config.dropout),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        drop = self.dropout if self.training else 0.0
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=drop)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x))


class MusicLM(nn.Module):
    """Token and position embeddings, blocks, and a head tied to the token embedding."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config
        self.tokens = nn.Embedding(len(config.vocab), config.n_embd)
        self.positions = nn.Embedding(config.context, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = nn.LayerNorm(config.n_embd)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.tokens(ids) + self.positions(positions)
        for block in self.blocks:
            x = block(x)
        return self.norm(x) @ self.tokens.weight.T


def batch(codec: Codec, tunes: list, context: int) -> torch.Tensor:
    """Return a (B, T) batch of whole tunes, cut to `context` + 1 and padded with <pad>."""
    rows = [codec.encode(t)[: context + 1] for t in tunes]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [codec.pad] * (width - len(r)) for r in rows])


def loss_on(model: MusicLM, ids: torch.Tensor, pad: int) -> torch.Tensor:
    """Return the mean next-token cross-entropy (nats) over non-padding targets."""
    logits = model(ids[:, :-1])
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), ignore_index=pad
    )


def optimizers(model: MusicLM) -> dict[str, torch.optim.Optimizer]:
    """Return the AdamW optimiser."""
    return {"lm": torch.optim.AdamW(model.parameters(), lr=model.config.lr, weight_decay=0.1)}


def train_step(model: MusicLM, opt: dict, ids: torch.Tensor, pad: int) -> dict[str, float]:
    """One update on a batch of token ids; return the loss in nats and bits per token."""
    model.train()
    loss = loss_on(model, ids, pad)
    opt["lm"].zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt["lm"].step()
    return {"loss": loss.item(), "bits_per_token": loss.item() / math.log(2)}


@torch.inference_mode()
def generate(
    model: MusicLM,
    codec: Codec,
    header: tuple[str, str, str, str],
    rng: torch.Generator,
    max_new_tokens: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    constrain_meter: bool = True,
) -> str:
    """Return an ABC body for (rhythm, meter, key, unit), sampled from `rng` only; with
    `constrain_meter`, only characters that keep every bar of the meter full (`abc_bars`)."""
    model.eval()
    ids, device = codec.header(*header), next(model.parameters()).device
    bars = [abc_bars.start(header[1], header[3]) if constrain_meter else None]
    for _ in range(min(max_new_tokens, model.config.context - len(ids))):
        # Sampled on the CPU from a CPU generator: the same seed gives the same tune on any device.
        logits = model(torch.tensor([ids[-model.config.context :]], device=device))[0, -1]
        logits = logits.float().cpu()
        logits[[codec.pad, codec.bos, codec.unk]] = float("-inf")
        logits = in_meter(logits[None], bars, codec.vocab)[0]
        if temperature <= 0:
            token = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                logits[logits < torch.topk(logits, min(top_k, len(logits))).values[-1]] = float(
                    "-inf"
                )
            token = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=rng))
        if token == codec.eos:
            break
        ids.append(token)
        bars = feed(bars, [token], codec.vocab)
    return codec.decode(ids)


def in_meter(logits: torch.Tensor, bars: list, vocab: tuple[str, ...]) -> torch.Tensor:
    """Return (B, V) logits with the tokens that would break row b's bars (`bars[b]`, an
    `abc_bars.Bars`; None leaves the row free) set to -inf."""
    if all(b is None for b in bars):
        return logits
    free = (True,) * len(vocab)
    masks = [free if b is None else abc_bars.allowed(b, vocab) for b in bars]
    return logits.masked_fill(~torch.tensor(masks), float("-inf"))


def feed(bars: list, tokens: list[int], vocab: tuple[str, ...]) -> list:
    """Return each row's bar state after its sampled token."""
    pairs = zip(bars, tokens, strict=True)
    return [None if b is None else abc_bars.feed(b, vocab[t]) for b, t in pairs]


def _block_step(block: Block, x: torch.Tensor, cache: list[torch.Tensor]) -> torch.Tensor:
    """Return `block` applied to the newest positions `x` (B, t, C), attending to the keys and
    values of earlier positions kept in `cache`, which it extends (Block.forward, cached)."""
    b, t, c = x.shape
    q, k, v = block.qkv(block.norm1(x)).split(c, dim=2)
    q, k, v = (z.view(b, t, block.heads, c // block.heads).transpose(1, 2) for z in (q, k, v))
    first = not cache
    if cache:
        k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
    cache[:] = [k, v]
    attended = F.scaled_dot_product_attention(q, k, v, is_causal=first)
    x = x + block.proj(attended.transpose(1, 2).reshape(b, t, c))
    return x + block.mlp(block.norm2(x))


def _pick(logits: torch.Tensor, temperature: float, top_k: int, rng: torch.Generator):
    if temperature <= 0:
        return logits.argmax(-1)
    logits = logits / temperature
    if top_k:
        cutoff = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < cutoff, float("-inf"))
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=rng)[:, 0]


@torch.inference_mode()
def generate_batch(
    model: MusicLM,
    codec: Codec,
    headers: list[tuple[str, str, str, str]],
    rng: torch.Generator,
    max_new_tokens: int = 400,
    temperature: float = 1.0,
    top_k: int = 0,
    constrain_meter: bool = True,
) -> list[str]:
    """Return an ABC body per header, all sampled at once from `rng` with cached keys and
    values: the distribution of `generate`, far faster for many tunes (not the same draws)."""
    model.eval()
    device = next(model.parameters()).device
    bars = [abc_bars.start(h[1], h[3]) if constrain_meter else None for h in headers]
    ids = torch.tensor([codec.header(*h) for h in headers], device=device)
    caches: list[list[torch.Tensor]] = [[] for _ in model.blocks]
    done, produced, start = torch.zeros(len(headers), dtype=torch.bool), [], 0
    for _ in range(min(max_new_tokens, model.config.context - ids.shape[1])):
        x = model.tokens(ids) + model.positions(
            torch.arange(start, start + ids.shape[1], device=device)
        )
        for block, cache in zip(model.blocks, caches, strict=True):
            x = _block_step(block, x, cache)
        logits = (model.norm(x[:, -1]) @ model.tokens.weight.T).float().cpu()
        logits[:, [codec.pad, codec.bos, codec.unk]] = float("-inf")
        token = _pick(in_meter(logits, bars, codec.vocab), temperature, top_k, rng)
        token = token.masked_fill(done, codec.eos)
        done |= token == codec.eos
        produced.append(token)
        bars = feed(bars, token.tolist(), codec.vocab)
        if bool(done.all()):
            break
        start, ids = start + ids.shape[1], token[:, None].to(device)
    rows = torch.stack(produced, 1).tolist() if produced else [[] for _ in headers]
    return [codec.decode(row[: row.index(codec.eos)] if codec.eos in row else row) for row in rows]


def build(config: Config) -> MusicLM:
    """Return a new model for `config` (its vocabulary included)."""
    return MusicLM(config)


class MusicCourse:
    """What the music family trains on: the folk tunes (or synthetic ones) as token ids."""

    def __init__(self, source: str, config: Config, home) -> None:
        import hashlib

        from data import folk, synthetic

        if source == "folk":
            every = folk.load(home)
        elif source == "synthetic":
            every = synthetic.tunes()
        else:
            raise ValueError(f"unknown music data {source!r}; use folk or synthetic")
        self.tunes = [t for t in every if t.split == "train"]
        self.vocab = build_vocab(every)  # validation tunes' symbols too, so eval never meets <unk>
        self.codec = Codec(self.vocab)
        self.name, self.size = source, len(self.tunes)
        self.digest = hashlib.sha256("\n".join(t.id for t in every).encode()).hexdigest()[:16]

    def adapt(self, config: Config) -> Config:
        """Return the config with this data's vocabulary."""
        import dataclasses

        return dataclasses.replace(config, vocab=self.vocab)

    def step(self, module, model: MusicLM, opt: dict, idx, device: str) -> dict[str, float]:
        """Run one training step on the tunes `idx`."""
        ids = batch(self.codec, [self.tunes[i] for i in idx.tolist()], model.config.context)
        return train_step(model, opt, ids.to(device), self.codec.pad)

    def preview(self, module, model: MusicLM, device: str, path):
        """Write four sampled tunes (reel, jig, hornpipe, air) as one ABC file."""
        rng = torch.Generator().manual_seed(1234)
        parts = []
        for n, (rhythm, meter, key, unit) in enumerate(PREVIEW_HEADERS, start=1):
            body = generate(model, self.codec, (rhythm, meter, key, unit), rng, 300, 1.0, 0)
            parts.append(
                f"X:{n}\nT:sample {rhythm}\nR:{rhythm}\nM:{meter}\nL:{unit}\nK:{key}\n{body}\n"
            )
        path = path.with_suffix(".abc")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(parts), encoding="utf-8")
        return path

    def finish(self, module, model: MusicLM, device: str) -> None:
        """Nothing to calibrate."""


course = MusicCourse


def preview(model: MusicLM, codec: Codec, rng: torch.Generator) -> str:
    """Return four sampled tunes (reel, jig, hornpipe, air) as one ABC text."""
    parts = []
    for n, (rhythm, meter, key, unit) in enumerate(PREVIEW_HEADERS, start=1):
        body = generate(model, codec, (rhythm, meter, key, unit), rng, 300, 1.0, 0)
        header = f"X:{n}\nT:sample {rhythm}\nR:{rhythm}\nM:{meter}\nL:{unit}\nK:{key}\n"
        parts.append(header + body + "\n")
    return "\n".join(parts)


def export_state(model: MusicLM) -> dict[str, torch.Tensor]:
    """Return the inference weights, in fp32 (the model is small; sampling is sensitive)."""
    return dict(model.state_dict())


def from_export(config: Config, state: dict[str, torch.Tensor]) -> MusicLM:
    """Return a model ready to `generate` from `export_state` weights."""
    model = MusicLM(config)
    model.load_state_dict(state)
    return model.eval()
