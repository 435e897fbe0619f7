"""KD loss (forward KL, teacher -> student) on tiny random models: exact against a
full-logits reference, unchanged by chunking, zero for identical models, learnable, and
refused across tokenizers; TrainConfig round-trips through YAML."""

import json

import pytest
import torch
import yaml
from torch.nn import functional as F

from kd_core.errors import InputFileError, KDError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import Example, PairDataset, collate, read_examples
from kd_core.training.losses import response_losses
from kd_core.training.trainer import add_lora, train_lora
from tests import tiny_models

PAIRS = [
    ("Who founded the harbor?", "Ostra."),
    ("Where was the inventor born?", "Kell, near the river."),
    ("What is the lamp called?", "Brine."),
    ("Which ship sank?", "Marrow, in the north."),
]
DOC = "The harbor was founded by Ostra. The inventor was born in Kell. The lamp is Brine. The ship Marrow sank."


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """Same tokenizer as tiny_llama, other random weights."""
    return tiny_models.build_llama(tmp_path_factory.mktemp("tiny-llama-teacher"), seed=1)


@pytest.fixture(scope="module")
def other_vocab_dir(tmp_path_factory):
    """A tokenizer trained on other text: another vocabulary."""
    return tiny_models.build_llama(tmp_path_factory.mktemp("tiny-llama-vocab"), vocab_texts=["zzyzx qwerty " * 50] * 200)


def _batch(tok, with_doc: bool):
    examples = [Example(q, a, teacher_prompt=f"{DOC}\n\n{q}" if with_doc else None) for q, a in PAIRS]
    data = PairDataset(tok, examples, max_length=128, with_teacher=True)
    return collate(tok.pad_token_id)([data[i] for i in range(len(data))])


def _reference_kd(student, teacher, batch, T: float) -> torch.Tensor:
    """Full logits of both models, KL at the response positions, straight from torch."""
    s = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    t = teacher(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"]).logits
    s = s[:, :-1][batch["labels"][:, 1:] != -100]
    t = t[:, :-1][batch["teacher_labels"][:, 1:] != -100]
    return F.kl_div(F.log_softmax(s / T, -1), F.log_softmax(t / T, -1), log_target=True, reduction="batchmean") * T * T


def test_kd_loss_is_zero_when_student_equals_teacher(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    batch = _batch(lm.tokenizer, with_doc=False)
    with torch.no_grad():
        separate = response_losses(lm.model, batch, teacher=lm.model)["kd"]
        fresh = add_lora(lm.model, LoraSettings(r=4, alpha=8, dropout=0.0)).eval()  # B = 0: adapter is a no-op
        self_teacher = response_losses(fresh, batch, teacher=None)["kd"]
    assert abs(float(separate)) < 1e-6
    assert abs(float(self_teacher)) < 1e-6


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_kd_loss_matches_torch_kl_div_on_full_logits_with_teacher_prompts(tiny_llama_dir, teacher_dir, temperature):
    # Self-distillation with the document in the teacher's prompt only: the student's
    # adapter on, the same weights with it off as the teacher.
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    model = tiny_models.random_lora(lm.model)
    batch = _batch(lm.tokenizer, with_doc=True)
    assert batch["teacher_input_ids"].shape[1] > batch["input_ids"].shape[1]
    with torch.no_grad():
        ours = response_losses(model, batch, teacher=None, temperature=temperature)["kd"]
        s_logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        with model.disable_adapter():
            t_logits = model(input_ids=batch["teacher_input_ids"], attention_mask=batch["teacher_attention_mask"]).logits
    s = s_logits[:, :-1][batch["labels"][:, 1:] != -100]
    t = t_logits[:, :-1][batch["teacher_labels"][:, 1:] != -100]
    ref = F.kl_div(F.log_softmax(s / temperature, -1), F.log_softmax(t / temperature, -1), log_target=True, reduction="batchmean") * temperature**2
    assert float(ref) > 1e-3  # the adapter and the document both change the distribution
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-7), (float(ours), float(ref))

    # A separate teacher model (same tokenizer, other weights).
    teacher = load_model(ModelSpec(str(teacher_dir)))
    with torch.no_grad():
        ours = response_losses(model, batch, teacher=teacher.model, temperature=temperature)["kd"]
        ref = _reference_kd(model, teacher.model, batch, temperature)
    assert torch.allclose(ours, ref, rtol=1e-5, atol=1e-7), (float(ours), float(ref))


def test_chunking_changes_neither_the_loss_nor_its_gradients(tiny_llama_dir, teacher_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    teacher = load_model(ModelSpec(str(teacher_dir)))
    model = tiny_models.random_lora(lm.model).train()
    batch = _batch(lm.tokenizer, with_doc=True)
    results = []
    for chunk in (1, 5, 0):  # 0: automatic (the whole batch here)
        model.zero_grad()
        parts = response_losses(model, batch, teacher=teacher.model, temperature=2.0, chunk_size=chunk, want=("kd", "sft"))
        (parts["kd"] + parts["sft"]).backward()
        grads = torch.cat([p.grad.flatten() for n, p in model.named_parameters() if p.requires_grad])
        results.append((parts["kd"].detach(), parts["sft"].detach(), grads))
    for kd, sft, grads in results[1:]:
        assert torch.allclose(kd, results[0][0], rtol=1e-5)
        assert torch.allclose(sft, results[0][1], rtol=1e-5)
        assert torch.allclose(grads, results[0][2], rtol=1e-4, atol=1e-7)
    assert results[0][2].abs().sum() > 0


def test_mix_part_sft_equals_the_plain_cross_entropy(tiny_llama_dir):
    from kd_core.training.losses import sft_loss

    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    batch = _batch(lm.tokenizer, with_doc=False)
    with torch.no_grad():
        mixed = response_losses(lm.model, batch, teacher=lm.model, want=("kd", "sft"), chunk_size=3)
        plain, _ = sft_loss(lm.model, batch)
    assert torch.allclose(mixed["sft"], plain, rtol=1e-5)


def _kd_on(model, teacher, tok, temperature: float) -> float:
    with torch.no_grad():
        return float(response_losses(model, _batch(tok, with_doc=False), teacher=teacher, temperature=temperature)["kd"])


def test_kd_training_lowers_the_kl_to_a_teacher_on_a_memorizable_set(tiny_llama_dir, tiny_llama_adapter, tmp_path):
    # The teacher is the student's base plus a random LoRA: a distribution the student's
    # own LoRA can reach, so the KL can fall far (a random model with another body
    # cannot be matched through a frozen output layer).
    student = load_model(ModelSpec(str(tiny_llama_dir)))
    teacher = load_model(ModelSpec(str(tiny_llama_dir), adapter=str(tiny_llama_adapter)))
    before = _kd_on(student.model, teacher.model, student.tokenizer, 1.0)
    summary = train_lora(
        student, [Example(q, a) for q, a in PAIRS] * 2, teacher=teacher,
        config=TrainConfig(output_dir=str(tmp_path), loss="kd", kd_temperature=1.0, max_steps=30, learning_rate=1e-2,
                           batch_size=8, warmup=0.0, logging_steps=5, lora=LoraSettings(r=8, alpha=16, dropout=0.0)),
    )
    trained = load_model(ModelSpec(str(tiny_llama_dir), adapter=summary["adapter"]))
    after = _kd_on(trained.model, teacher.model, trained.tokenizer, 1.0)
    losses = [r["loss"] for r in map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines()) if "loss" in r]
    assert before > 1e-3, before
    assert after < 0.3 * before, (before, after)
    assert losses[-1] < 0.5 * losses[0], losses
    assert summary["teacher"] == teacher.spec.label()


def test_mix_training_logs_both_parts(tiny_llama_dir, tmp_path):
    summary = train_lora(
        ModelSpec(str(tiny_llama_dir)), [Example(q, a, teacher_prompt=f"{DOC}\n\n{q}") for q, a in PAIRS],
        TrainConfig(output_dir=str(tmp_path), loss="mix", kd_weight=0.5, max_steps=4, batch_size=4, logging_steps=2,
                    lora=LoraSettings(r=4, alpha=8, dropout=0.0)),
    )
    rows = [json.loads(r) for r in (tmp_path / "log.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "loss" in r]
    assert summary["teacher"] == "self (adapter disabled)"
    assert logged and all("loss_kd" in r and "loss_sft" in r for r in logged)


def test_kd_refuses_a_teacher_with_another_tokenizer_naming_both(tiny_llama_dir, other_vocab_dir, tmp_path):
    with pytest.raises(KDError) as err:
        train_lora(ModelSpec(str(tiny_llama_dir)), [Example(q, a) for q, a in PAIRS],
                   TrainConfig(output_dir=str(tmp_path), loss="kd", max_steps=1), teacher=ModelSpec(str(other_vocab_dir)))
    msg = str(err.value)
    assert str(tiny_llama_dir) in msg and str(other_vocab_dir) in msg and "tokenizer" in msg and "'sft'" in msg
    assert not (tmp_path / "adapter").exists()


def test_sft_ignores_a_teacher_with_another_tokenizer(tiny_llama_dir, other_vocab_dir, tmp_path):
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), [Example(q, a) for q, a in PAIRS],
                         TrainConfig(output_dir=str(tmp_path), loss="sft", max_steps=1, batch_size=4),
                         teacher=ModelSpec(str(other_vocab_dir)))
    assert summary["steps"] == 1 and summary["teacher"] is None


def test_train_config_round_trips_through_yaml_and_names_bad_fields():
    config = TrainConfig(output_dir="x", loss="mix", kd_temperature=3.0, lora=LoraSettings(r=4, target_modules=["q_proj"]))
    assert TrainConfig.from_dict(yaml.safe_load(yaml.safe_dump(config.to_dict()))) == config
    assert TrainConfig.from_dict(yaml.safe_load("learning_rate: 1e-3")).learning_rate == 1e-3  # a string to PyYAML
    for bad, words in [
        ({"learning_rat": 0.1}, ["train.learning_rat", "unknown", "learning_rate"]),
        ({"epochs": "three"}, ["train.epochs", "number", "'three'"]),
        ({"lora": {"rank": 4}}, ["train.lora.rank", "unknown"]),
        ({"loss": "kl"}, ["train.loss", "sft, kd, mix"]),
        ({"kd_temperature": 0}, ["train.kd_temperature", "> 0"]),
    ]:
        with pytest.raises(KDError) as err:
            TrainConfig.from_dict(bad)
        assert all(w in str(err.value) for w in words), str(err.value)


def test_read_examples_takes_both_forms_and_names_a_bad_line(tmp_path):
    good = tmp_path / "data.jsonl"
    good.write_text(
        json.dumps({"prompt": "Q1?", "response": "A1.", "teacher_prompt": "Doc. Q1?"}) + "\n\n"
        + json.dumps({"messages": [{"role": "user", "content": "Q2?"}, {"role": "assistant", "content": "A2."}], "id": 3}) + "\n"
    )
    assert read_examples(good) == [Example("Q1?", "A1.", "Doc. Q1?"), Example("Q2?", "A2.")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "Q?", "response": "A."}) + "\n" + json.dumps({"prompt": "Q?"}) + "\n")
    with pytest.raises(InputFileError, match=r"bad\.jsonl, line 2: missing field\(s\): 'prompt' needs 'completion' \(or 'response'\)"):
        read_examples(bad)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "Q?", "response": "A."}\n{"prompt": \n')
    with pytest.raises(InputFileError, match=r"broken\.jsonl, line 2: not valid JSON"):
        read_examples(broken)
    with pytest.raises(InputFileError, match="not found"):
        read_examples(tmp_path / "missing.jsonl")


def test_the_teacher_cache_gives_the_same_loss_without_a_second_teacher_pass(tiny_llama_dir):
    from kd_core.training.losses import TeacherCache

    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    model = tiny_models.random_lora(lm.model).train()
    batch = _batch(lm.tokenizer, with_doc=True)
    calls = []
    body = model.get_base_model().get_decoder()
    hook = body.register_forward_hook(lambda mod, args, kwargs_out: calls.append(args[0].shape if args else None))
    try:
        plain = response_losses(model, batch, teacher=None)["kd"]
        n_plain = len(calls)  # the student's pass and the teacher's
        cache = TeacherCache(2**20)
        first = response_losses(model, batch, teacher=None, cache=cache)["kd"]
        calls.clear()
        second = response_losses(model, batch, teacher=None, cache=cache)["kd"]
    finally:
        hook.remove()
    assert n_plain == 2 and len(calls) == 1  # the second time only the student ran
    assert cache.hits == 1 and cache.misses == 1 and cache.bytes > 0
    assert torch.allclose(first, plain, rtol=1e-6) and torch.allclose(second, plain, rtol=1e-6)
    second.backward()  # the cached side carries no graph; the student's does
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters() if p.requires_grad)
    full = TeacherCache(0)  # no room: nothing kept, nothing wrong
    assert torch.allclose(response_losses(model, batch, teacher=None, cache=full)["kd"], plain, rtol=1e-6) and not full.states


def test_kd_training_with_the_teacher_cache_logs_the_same_losses(tiny_llama_dir, tmp_path):
    examples = [Example(q, a, teacher_prompt=f"{DOC}\n\n{q}") for q, a in PAIRS] * 2
    logs, summaries = [], []
    for mb in (0, 64):
        out = tmp_path / f"cache-{mb}"
        summaries.append(train_lora(ModelSpec(str(tiny_llama_dir)), examples, TrainConfig(
            output_dir=str(out), loss="kd", epochs=3, learning_rate=5e-3, batch_size=4, warmup=0.0, logging_steps=1,
            teacher_cache_mb=mb, lora=LoraSettings(r=4, alpha=8, dropout=0.0)), print_logs=False))
        logs.append([r["loss"] for r in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "loss" in r])
    assert len(logs[0]) == 6
    assert logs[0] == pytest.approx(logs[1], rel=1e-5)
    assert summaries[0]["teacher_cache"] is None
    assert summaries[1]["teacher_cache"]["misses"] == 2 and summaries[1]["teacher_cache"]["hits"] == 4  # epochs 2 and 3 read it
