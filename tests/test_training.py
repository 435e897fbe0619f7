"""LoRA SFT on a tiny random model: response-only loss, and a real run that learns."""

import torch

from kd_core.evaluation.qa import QAItem, evaluate_qa
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import Example, PairDataset, encode_example
from kd_core.training.losses import sft_loss
from kd_core.training.trainer import train_lora

PAIRS = [
    ("Who founded the harbor?", "Ostra."),
    ("Where was the inventor born?", "Kell."),
    ("What is the lamp called?", "Brine."),
    ("Which ship sank?", "Marrow."),
]


def test_labels_cover_exactly_the_response_and_end_of_turn(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    p, r = encode_example(lm.tokenizer, "Hi?", "Yo.")
    assert lm.tokenizer.decode(r) == "Yo.<|im_end|>"
    assert lm.tokenizer.decode(p).endswith("<|im_start|>assistant\n")
    item = PairDataset(lm.tokenizer, [Example("Hi?", "Yo.")], max_length=128).items[0]
    assert item["labels"] == [-100] * len(p) + r


def test_sft_loss_equals_full_logits_cross_entropy_on_response_tokens(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    from kd_core.training.data import collate

    data = PairDataset(lm.tokenizer, [Example(q, a) for q, a in PAIRS], max_length=128)
    batch = collate(lm.tokenizer.pad_token_id)([data[i] for i in range(len(data))])
    with torch.no_grad():
        loss, n = sft_loss(lm.model, batch)
        logits = lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    ref = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), batch["labels"][:, 1:].reshape(-1), ignore_index=-100)
    assert n == int((batch["labels"] != -100).sum())
    assert torch.allclose(loss, ref, rtol=1e-5)


def test_a_few_lora_steps_raise_training_set_accuracy(tiny_llama_dir, tmp_path):
    items = [QAItem(str(i), q, [a.rstrip(".")]) for i, (q, a) in enumerate(PAIRS)]
    gen = GenerationConfig(max_new_tokens=6)
    before = evaluate_qa(load_model(ModelSpec(str(tiny_llama_dir))), items, gen).summary["accuracy"]
    summary = train_lora(
        ModelSpec(str(tiny_llama_dir)),
        [Example(q, a) for q, a in PAIRS] * 4,
        TrainConfig(output_dir=str(tmp_path), epochs=30, learning_rate=1e-2, batch_size=8, warmup=0.0,
                    logging_steps=10, lora=LoraSettings(r=8, alpha=16, dropout=0.0)),
    )
    after_lm = load_model(ModelSpec(str(tiny_llama_dir), adapter=summary["adapter"]))
    after = evaluate_qa(after_lm, items, gen).summary["accuracy"]
    assert before == 0.0
    assert after >= 0.75, f"accuracy after training {after}"
    log = [l for l in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(log) >= 3 and '"loss"' in log[0] and '"eta_s"' in log[0]


def test_a_full_blocks_run_trains_every_block_and_reads_back_and_merges_like_any_adapter(tiny_llama_dir, tmp_path):
    """lora.full_blocks: the full fine-tune. Every block's weights move (not only a low-rank
    update), the embedding has the LoRA, and the saved adapter gives the trained model back
    through the same loader and merge that read every other adapter."""
    import json

    from kd_core.training.merge import mean_logliks, merge_adapter

    summary = train_lora(
        ModelSpec(str(tiny_llama_dir)),
        [Example(q, a) for q, a in PAIRS] * 4,
        TrainConfig(output_dir=str(tmp_path / "job"), epochs=60, learning_rate=1e-2, batch_size=8, warmup=0.0,
                    save_steps=0, report_to=["none"], lora=LoraSettings(r=4, alpha=8, dropout=0.0, full_blocks=True)),
    )
    saved = json.loads((tmp_path / "job" / "adapter" / "adapter_config.json").read_text())
    base = load_model(ModelSpec(str(tiny_llama_dir)))
    n_blocks = base.model.config.num_hidden_layers
    assert sorted(saved["modules_to_save"]) == sorted([f"model.layers.{i}" for i in range(n_blocks)] + ["model.norm"])
    assert saved["target_modules"] in (["model.embed_tokens"], "model.embed_tokens")  # the frozen zero LoRA peft needs
    trained = load_model(ModelSpec(str(tiny_llama_dir), adapter=summary["adapter"]))
    pairs = [Example(q, a) for q, a in PAIRS]
    gain = [a - b for a, b in zip(mean_logliks(trained.model, trained.tokenizer, pairs), mean_logliks(base.model, base.tokenizer, pairs))]
    assert min(gain) > 1.0, f"log-likelihood gained per token on the training answers: {gain}"
    # Every block moved in full: a weight matrix's change has full rank, where a LoRA's has rank r.
    for i in range(n_blocks):
        name = f"model.layers.{i}.mlp.down_proj.weight"
        after = dict(trained.model.named_parameters())[f"base_model.model.model.layers.{i}.modules_to_save.default.mlp.down_proj.weight"]
        delta = (after - dict(base.model.named_parameters())[name]).detach()
        assert torch.linalg.matrix_rank(delta) > 4, f"block {i} changed by rank {torch.linalg.matrix_rank(delta)}"
    card = (tmp_path / "job" / "adapter" / "README.md").read_text()
    assert "every transformer block and the final norm trained in full" in card
    report = merge_adapter(str(tiny_llama_dir), summary["adapter"], tmp_path / "merged", dtype="float32", pairs=pairs)
    merged = load_model(ModelSpec(str(tmp_path / "merged")))
    assert report.max_abs_diff < 1e-4
    assert max(abs(a - b) for a, b in zip(mean_logliks(merged.model, merged.tokenizer, pairs),
                                          mean_logliks(trained.model, trained.tokenizer, pairs))) < 1e-4
