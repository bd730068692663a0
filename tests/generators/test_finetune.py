"""Community fine-tunes from tiny bases on small exports: text (LoRA), VAE and GAN, with and
without DP (Opacus); the outputs load through the families' loaders; the report is written."""

import dataclasses
import json
import math

import pytest
import torch
from safetensors.torch import load_file

from data import checkpoints
from data.community import DATASHEET_FILE, write_items
from data.synthetic import community_items
from generators import finetune, finetune_report, finetune_text, private_layers, train
from generators.models import gan, text_gpt, text_lm, vae
from generators.schema import TextRequest

FAMILIES = ["text", "vae", "gan"]


@pytest.fixture(scope="module")
def ft_home(tmp_path_factory):
    return tmp_path_factory.mktemp("finetune-home")


@pytest.fixture(scope="module")
def exports(ft_home):
    """One export folder per family (community.jsonl and a datasheet), 30 items each."""
    folders = {}
    for name in FAMILIES:
        folder = ft_home / "exports" / name
        write_items(community_items(name, 30, seed=1), folder / "community.jsonl")
        (folder / DATASHEET_FILE).write_text("# Datasheet\n\nSynthetic test items.\n")
        folders[name] = folder
    return folders


def finetune_run(home, name, *extra):
    """Run `genbot train NAME --finetune-from ...` in process; return (out folder, facts)."""
    out = home / "runs" / "-".join([name, *[e.strip("-") for e in extra if e.startswith("--")]])
    argv = [name, "--finetune-from", "tiny", "--out", str(out), "--seed", "0", *extra]
    assert train.main(argv, home=home) == 0
    return out, json.loads((out / "FINETUNE.json").read_text())


def test_split_drops_rated_down_items_and_holds_out_a_stable_share():
    items = community_items("text", 60)
    kept_train, held, dropped = finetune.split(items)
    assert dropped == sum(i.rating < 0 for i in items) > 0
    assert all(i.rating >= 0 for i in kept_train + held)
    assert not {i.id for i in kept_train} & {i.id for i in held}
    assert len(kept_train) + len(held) + dropped == len(items)
    assert 0.05 < len(held) / (len(held) + len(kept_train)) < 0.4
    assert finetune.split(list(reversed(items)))[1] == list(reversed(held))


@pytest.mark.parametrize("name", FAMILIES)
def test_dry_run_fine_tunes_and_writes_the_before_after_report(ft_home, name):
    report = ft_home / "reports" / f"dry-{name}"
    out, facts = finetune_run(
        ft_home, name, "--data", "synthetic", "--dry-run", "--report", str(report)
    )
    assert facts["training"]["steps"] == 2 and facts["privacy"] is None
    saved = json.loads((report / "report.json").read_text())
    assert saved["family"] == name and saved["data"]["train"] == facts["data"]["train"]
    assert set(saved["before"]) == set(saved["after"])
    headline = finetune_report.headline(finetune_report.FinetuneReport(**saved))
    assert len(headline) >= 3 and all(
        math.isfinite(b) and math.isfinite(a) for _, b, a, _ in headline
    )
    assert "| metric | base | fine-tuned | change |" in (report / "REPORT.md").read_text()
    assert (report / "report.png").stat().st_size > 1000
    card = (out / "MODEL_CARD.md").read_text()
    assert f"{facts['data']['train']} approved" in card and "not differentially private" in card
    assert (out / "private-index.json").is_file()
    [bias] = [s for s in saved["sections"] if s["title"].startswith("Bias audit")]
    if name == "text":  # both models audited on the same group-swapped prompts and seeds
        before, after = bias["data"]["before"], bias["data"]["after"]
        assert before["prompts"] == after["prompts"] > 6
        assert 0 <= before["overall"]["expected_max_toxicity"] <= 1
        assert "| expected max toxicity |" in bias["markdown"]
    else:
        assert "not audited" in bias["markdown"] or "no bias audit" in bias["markdown"]


def test_text_finetune_learns_the_export_and_serves_from_the_merged_folder(ft_home, exports):
    report = ft_home / "reports" / "text-export"
    out, facts = finetune_run(
        ft_home, "text", "--data", str(exports["text"]), "--epochs", "4", "--report", str(report)
    )
    saved = json.loads((report / "report.json").read_text())
    before, after = saved["before"], saved["after"]
    assert after["perplexity_community_train"] < before["perplexity_community_train"]
    assert facts["data"]["datasheet"].endswith(DATASHEET_FILE)
    assert (out / "adapter" / "adapter_config.json").is_file()
    lm = text_lm.load(out, ft_home)
    request = TextRequest.parse({"prompt": "Tell me about", "max_new_tokens": 5, "seed": 3})
    assert text_lm.generate(lm, [request])[0].seed == 3


def test_private_text_finetune_reports_epsilon_and_changes_only_the_adapted_layers(
    ft_home, exports
):
    out, facts = finetune_run(
        ft_home,
        "text",
        "--data",
        str(exports["text"]),
        "--epochs",
        "2",
        "--dp",
        "--dp-noise-multiplier",
        "1.0",
        "--no-report",
    )
    spent = facts["privacy"]
    assert 0 < spent["epsilon"] < math.inf and spent["delta"] == 1e-5 and spent["steps"] > 0
    assert f"ε = {spent['epsilon']:.2f}" in (out / "MODEL_CARD.md").read_text()
    base = load_file(finetune_text.base_folder("tiny", ft_home) / "model.safetensors")
    tuned = load_file(out / "model.safetensors")
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed and all(k.split(".")[-2] in finetune_text.GPT2_TARGETS for k in changed)
    assert all(k.endswith(".weight") for k in changed)  # biases and embeddings stay frozen


def test_opacus_per_record_gradients_of_lora_match_one_record_at_a_time():
    from opacus import GradSampleModule

    torch.manual_seed(0)
    config = dataclasses.replace(text_gpt.PRESETS["tiny"], dropout=0.0)
    model = finetune_text.with_lora(text_gpt.build(config), rank=2)
    for name, p in model.named_parameters():
        if "lora_B" in name:  # LoRA starts B at zero; nonzero B exercises every path
            torch.nn.init.normal_(p, std=0.1)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):  # the same function for both computations
            module.p = 0.0
    ids = torch.randint(2, config.vocab_size, (3, 10))
    labels, mask = ids.clone(), torch.ones_like(ids)
    labels[:, :3] = -100
    params = [p for p in model.parameters() if p.requires_grad]
    alone = [
        torch.autograd.grad(
            finetune_text.record_losses(
                model, ids[i : i + 1], labels[i : i + 1], mask[i : i + 1]
            ).sum(),
            params,
        )
        for i in range(3)
    ]
    wrapped = GradSampleModule(model)
    model.train()
    finetune_text.record_losses(wrapped, ids, labels, mask).mean().backward()
    for k, p in enumerate(params):
        for i in range(3):
            torch.testing.assert_close(p.grad_sample[i], alone[i][k], atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", ["vae", "gan"])
def test_private_image_finetunes_load_with_the_family_loaders(ft_home, exports, name):
    out, facts = finetune_run(
        ft_home,
        name,
        "--data",
        str(exports[name]),
        "--epochs",
        "2",
        "--dp",
        "--dp-noise-multiplier",
        "1.0",
        "--no-report",
    )
    assert 0 < facts["privacy"]["epsilon"] < math.inf
    module = {"vae": vae, "gan": gan}[name]
    blob = checkpoints.load(out / "model.pt", family=name)
    assert blob["meta"]["privacy"]["epsilon"] == facts["privacy"]["epsilon"]
    model = module.from_export(checkpoints.config_from(blob, module.Config), blob["state_dict"])
    size = model.config.image_size
    if name == "vae":
        scores = vae.out_of_distribution(model, torch.rand(4, 3, size, size))
        assert all(0 <= s <= 1 for s in scores)
    else:
        images = gan.generate(model, torch.randn(2, 384), 2, torch.Generator().manual_seed(0))
        assert images.shape == (4, 3, size, size) and torch.isfinite(images).all()
        state = checkpoints.load(out / "train-state.pt", family="gan")["state_dict"]
        full = gan.build(model.config)
        full.load_state_dict({k: v.float() for k, v in state.items()})  # spectral norm keys back


def test_more_noise_spends_less_epsilon(ft_home, exports):
    spent = []
    for noise in ("0.8", "2.0"):
        argv = ["--data", str(exports["vae"]), "--epochs", "2", "--dp", "--no-report"]
        _, facts = finetune_run(ft_home, "vae", *argv, "--dp-noise-multiplier", noise)
        spent.append(facts["privacy"]["epsilon"])
    assert all(math.isfinite(e) for e in spent) and spent[1] < spent[0]


def test_a_target_epsilon_is_met_and_a_too_large_delta_refused(ft_home, exports):
    _, facts = finetune_run(
        ft_home,
        "vae",
        "--data",
        str(exports["vae"]),
        "--epochs",
        "1",
        "--dp",
        "--dp-epsilon",
        "3",
        "--no-report",
    )
    assert 2.5 < facts["privacy"]["epsilon"] <= 3.0 + 1e-6
    with pytest.raises(SystemExit, match="dp-delta"):
        finetune_run(ft_home, "vae", "--data", str(exports["vae"]), "--dp", "--dp-delta", "0.5")


def test_batchnorm_folding_is_exact_and_keeps_the_checkpoint_layout():
    torch.manual_seed(0)
    model = vae.build(vae.PRESETS["tiny"])
    model.train()
    for _ in range(3):  # give BatchNorm non-trivial running statistics
        vae.negative_elbo(model, torch.rand(8, 3, 16, 16))
    model.eval()
    pixels = torch.rand(4, 3, 16, 16)
    reference, keys = model.decode_logits(model.encode(pixels)[0]), set(model.state_dict())
    folded = private_layers.fold_batchnorm(model)
    assert folded and not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    torch.testing.assert_close(model.decode_logits(model.encode(pixels)[0]), reference)
    private_layers.unfold_batchnorm(folded)
    reloaded = vae.build(vae.PRESETS["tiny"])
    reloaded.load_state_dict(model.state_dict())
    assert set(model.state_dict()) == keys
    torch.testing.assert_close(reloaded.eval().decode_logits(reloaded.encode(pixels)[0]), reference)


def test_spectral_norm_freezes_exactly_and_restores_close():
    torch.manual_seed(0)
    d = gan.build(gan.PRESETS["tiny"]).discriminator
    images, captions = torch.randn(4, 3, 16, 16), torch.randn(4, 384)
    for _ in range(50):  # converge the power iteration
        d(images, captions)
    d.eval()
    reference = d(images, captions).detach()
    saved = private_layers.freeze_spectral_norm(d)
    assert not any(hasattr(m, "weight_orig") for m in d.modules())
    torch.testing.assert_close(d(images, captions), reference)
    private_layers.restore_spectral_norm(saved)
    assert all(hasattr(m, "weight_orig") for m in saved)
    torch.testing.assert_close(d(images, captions), reference, atol=0.05, rtol=0.05)


def test_the_report_takes_extra_sections(tmp_path):
    report = finetune_report.FinetuneReport(
        family="text",
        base="b",
        finetuned="f",
        data={"export": "e", "digest": "d", "train": 3, "held_out": 1, "dropped_rated_down": 0},
        training={"steps": 4, "epochs": 1, "lr": 0.1, "method": "LoRA"},
        privacy=None,
        before={"perplexity_public_held_out": 40.0, "perplexity_community_held_out": 50.0},
        after={"perplexity_public_held_out": 42.0, "perplexity_community_held_out": 30.0},
    )
    finetune_report.add_section(report, "Bias audit", "| group | gap |\n|---|---|", {"gap": 0.1})
    text = finetune_report.write_report(report, tmp_path).read_text()
    assert "## Bias audit" in text and "| public held-out perplexity (lower is better) |" in text
    assert "-40.0%" in text  # 50 -> 30
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["sections"][0]["data"] == {"gap": 0.1}
