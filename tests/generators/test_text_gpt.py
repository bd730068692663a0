"""Our own small GPT: tokenizer, training step, Hugging Face export served by text_lm, eval."""

import json

import torch

from generators import eval_text
from generators.models import text_gpt, text_lm
from generators.schema import TextRequest


def test_the_bpe_tokenizer_round_trips_any_text():
    texts = [r["text"] for r in text_gpt.synthetic_texts()]
    tokenizer = text_gpt.train_tokenizer(texts, 300)
    for text in ["A cat dreams of home.", "naïve café — 東京 🎉", "  spaces\tand\nlines "]:
        assert tokenizer.decode(tokenizer.encode(text).ids) == text


def test_training_lowers_the_loss_on_a_tiny_corpus(tmp_path):
    torch.manual_seed(0)
    course = text_gpt.TextCourse("synthetic", text_gpt.PRESETS["tiny"], tmp_path)
    config = course.adapt(text_gpt.PRESETS["tiny"])
    model = text_gpt.build(config)
    opt = text_gpt.optimizers(model)
    losses = [course.step(text_gpt, model, opt, torch.arange(16), "cpu")["loss"] for _ in range(40)]
    assert losses[-1] < losses[0] * 0.8


def test_the_exported_folder_is_served_by_text_lm_deterministically(tmp_path):
    course = text_gpt.TextCourse("synthetic", text_gpt.PRESETS["tiny"], tmp_path)
    model = text_gpt.build(course.adapt(text_gpt.PRESETS["tiny"]))
    folder = text_gpt.export_folder(model, course.tokenizer, tmp_path / "hf")
    lm = text_lm.load(folder, tmp_path)
    request = TextRequest.parse({"prompt": "A cat", "max_new_tokens": 6, "seed": 7, "top_k": 0})
    first, again = text_lm.generate(lm, [request]), text_lm.generate(lm, [request])
    assert first[0].text == again[0].text and first[0].seed == 7


def test_unigram_baseline_and_verbatim_check():
    assert eval_text.unigram_perplexity([[1, 1, 2]], [[1]], vocab=3) < eval_text.unigram_perplexity(
        [[1, 1, 2]], [[0]], vocab=3
    )
    quote = "The quick brown fox jumps over the lazy dog, twice on Sundays."
    samples = [f"Once: {quote[3:50]} and more", "nothing of the sort " * 4]
    assert eval_text.verbatim_repeats(samples, [quote], width=40) == 1


def test_eval_dry_run_writes_metrics_and_ships_a_card(tmp_path, capsys):
    assert eval_text.main(["--dry-run", "--ship", str(tmp_path / "ship")], home=tmp_path) == 0
    metrics = json.loads((tmp_path / "ship" / "metrics.json").read_text())
    assert metrics["perplexity_valid"] > 1 and metrics["perplexity_unigram_baseline"] > 1
    card = (tmp_path / "ship" / "MODEL_CARD.md").read_text()
    assert "held-out perplexity" in card and "fortunes" in card
    assert (tmp_path / "ship" / "model.safetensors").is_file()
