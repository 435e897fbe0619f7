"""Formats in and out as the Hugging Face ecosystem writes them: training data and seed
files in TRL's prompt-completion form, chat messages (multi-turn), alpaca and ShareGPT;
exports that `datasets` loads and TRL's SFTTrainer trains on as they are."""

import json
from pathlib import Path

import pytest

from kd_core.data.prompt_files import read_prompts
from kd_core.errors import InputFileError
from kd_core.models.loading import ModelSpec, load_model
from kd_core.training.config import LoraSettings, TrainConfig
from kd_core.training.data import Example, PairDataset, read_examples
from kd_core.training.trainer import train_lora
from kd_core.tuneshift.pool import Pool
from kd_core.tuneshift.pool_export import export_dataset

Q1, A1, Q2, A2 = "Who founded Brindlecove?", "Ada Quill founded it.", "When?", "In the year 1702."


def _user(text: str) -> dict:
    return {"role": "user", "content": text}


def _bot(text: str) -> dict:
    return {"role": "assistant", "content": text}


# One row per accepted form, and the examples each must give.
FORMS = {
    "messages": ({"messages": [_user(Q1), _bot(A1)]}, [Example(Q1, A1)]),
    "messages multi-turn": (
        {"messages": [{"role": "system", "content": "Be brief."}, _user(Q1), _bot(A1), _user(Q2), _bot(A2)]},
        [Example(Q1, A1, None, ({"role": "system", "content": "Be brief."},)),
         Example(Q2, A2, None, ({"role": "system", "content": "Be brief."}, _user(Q1), _bot(A1)))],
    ),
    "prompt-completion": ({"prompt": Q1, "completion": A1}, [Example(Q1, A1)]),
    "prompt-completion conversational": ({"prompt": [_user(Q1)], "completion": [_bot(A1)]}, [Example(Q1, A1)]),
    "prompt-response (KD Studio's older form)": ({"prompt": Q1, "response": A1, "teacher_prompt": "Doc.\n\n" + Q1},
                                                 [Example(Q1, A1, "Doc.\n\n" + Q1)]),
    "alpaca": ({"instruction": "Name the founder of the town.", "input": "Brindlecove", "output": A1},
               [Example("Name the founder of the town.\n\nBrindlecove", A1)]),
    "alpaca without input": ({"instruction": Q1, "input": "", "output": A1}, [Example(Q1, A1)]),
    "sharegpt": ({"conversations": [{"from": "human", "value": Q1}, {"from": "gpt", "value": A1}]}, [Example(Q1, A1)]),
}


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.parametrize("form", list(FORMS))
def test_training_data_reads_each_form(tmp_path, form):
    row, want = FORMS[form]
    data = read_examples(_jsonl(tmp_path / "d.jsonl", [row, row]))
    assert list(data) == want * 2
    assert data.rows == 2 and data.source == "d.jsonl" and sum(data.formats.values()) == 2


@pytest.mark.parametrize("form", ["messages multi-turn", "prompt-completion conversational", "alpaca", "sharegpt",
                                  "prompt-completion"])
def test_kd_studio_trains_from_each_form(tiny_llama_dir, tmp_path, form):
    row, _ = FORMS[form]
    data = read_examples(_jsonl(tmp_path / "d.jsonl", [row] * 4))
    summary = train_lora(ModelSpec(str(tiny_llama_dir)), data, TrainConfig(
        output_dir=str(tmp_path / "job"), max_steps=2, batch_size=2, warmup=0.0, logging_steps=1,
        lora=LoraSettings(r=4, alpha=8, dropout=0.0)), print_logs=False)
    assert summary["steps"] == 2 and summary["final_loss"] is not None and summary["final_loss"] > 0
    assert (tmp_path / "job" / "adapter" / "adapter_model.safetensors").exists()


def test_a_multi_turn_chat_is_trained_on_its_assistant_turns_only(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    examples = read_examples_from([FORMS["messages multi-turn"][0]])
    data = PairDataset(lm.tokenizer, examples, max_length=512)
    assert len(data) == 2
    tok = lm.tokenizer
    labelled = [tok.decode([t for t in item["labels"] if t != -100]) for item in data.items]
    assert labelled[0].startswith(A1) and Q1 not in labelled[0]
    assert labelled[1].startswith(A2) and A1 not in labelled[1] and Q2 not in labelled[1]
    whole = tok.decode(data.items[1]["input_ids"])  # the second turn sees the first one as its context
    assert whole.index("Be brief.") < whole.index(Q1) < whole.index(A1) < whole.index(Q2) < whole.index(A2)


def read_examples_from(rows: list) -> list[Example]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return list(read_examples(_jsonl(Path(d) / "rows.jsonl", rows)))


BAD_ROWS = [
    ({"prompt": Q1}, r"line 2: missing field\(s\): 'prompt' needs 'completion'"),
    ({"instruction": Q1, "input": ""}, r"line 2: missing field\(s\): 'instruction' needs 'output'"),
    ({"text": "x"}, r"line 2: no 'messages', 'conversations', 'prompt'/'completion' or 'instruction'/'output' fields \(fields: 'text'\)"),
    ({"messages": [_user(Q1), _bot(A1), _user(Q2)]}, r"line 2: field 'messages': the last message is the user's"),
    ({"messages": [_bot(A1), _user(Q1)]}, r"line 2: field 'messages': message 1 is from the assistant where the user speaks"),
    ({"messages": [_user(Q1), {"role": "assistant", "content": 3}]}, r"line 2: field 'messages\[2\]\.content': expected text, got int"),
    ({"conversations": [{"from": "human", "value": Q1}, {"from": "robot", "value": A1}]},
     r"line 2: field 'conversations': message 2 has from 'robot'"),
    ({"prompt": Q1, "completion": ""}, r"line 2: field 'completion': empty text"),
    ({"prompt": Q1, "completion": A1, "teacher_prompt": 5}, r"line 2: field 'teacher_prompt': expected text, got int"),
    ([Q1, A1], r"line 2: expected a JSON object, got list"),
]


@pytest.mark.parametrize("row, message", BAD_ROWS, ids=[m.split(": ", 1)[1][:40] for _, m in BAD_ROWS])
def test_a_bad_row_is_one_error_naming_the_file_line_and_field(tmp_path, row, message):
    path = _jsonl(tmp_path / "train.jsonl", [{"prompt": Q1, "completion": A1}, row])
    with pytest.raises(InputFileError, match=r"train\.jsonl, " + message):
        read_examples(path)


def test_seed_files_take_the_same_forms(tmp_path):
    rows = [
        {"prompt": "plain prompt"},
        {"prompt": [_user("conversational prompt")]},
        {"prompt": "with completion", "completion": "ignored"},
        {"instruction": "alpaca", "input": "its input"},
        {"conversations": [{"from": "human", "value": "sharegpt"}, {"from": "gpt", "value": "x"}]},
        {"messages": [_user("first"), _bot("x"), _user("last user turn")]},
        {"conversations": [{"from": "gpt", "value": "no human"}]},
    ]
    pf = read_prompts(_jsonl(tmp_path / "seeds.jsonl", rows))
    assert pf.prompts == ["plain prompt", "conversational prompt", "with completion", "alpaca\n\nits input", "sharegpt",
                          "last user turn"]
    assert [str(p) for p in pf.problems] == ["line 7: field 'conversations': no user message"]


def test_parquet_seed_files_take_conversational_prompts_and_sharegpt(tmp_path):
    import pandas as pd

    pd.DataFrame({"prompt": [[_user("conversational")], [_user("second")]]}).to_parquet(tmp_path / "p.parquet")
    assert read_prompts(tmp_path / "p.parquet").prompts == ["conversational", "second"]
    pd.DataFrame({"conversations": [[{"from": "human", "value": "sharegpt"}, {"from": "gpt", "value": "x"}]]}).to_parquet(
        tmp_path / "c.parquet")
    assert read_prompts(tmp_path / "c.parquet").prompts == ["sharegpt"]


# ---------------------------------------------------------------------------
# Out: the pool export and PD's files, in datasets and TRL


def _pool_export(tmp_path: Path) -> Path:
    (tmp_path / "project").mkdir()
    with Pool(tmp_path / "project") as pool:
        ids = pool.add_prompts([f"Question number {i} about Brindlecove?" for i in range(6)], "seed").added
        for i, pid in enumerate(ids):
            pool.set_results(pid, f"Answer number {i}: the harbor.", gap=1.0 + i, gap_metric="logratio")
            pool.accept(pid, "test")
        pool.set_meta("models", {"base": str(tmp_path / "models" / "my-base"), "finetuned": "demo:smollm2-135m-instruct"})
        export_dataset(pool, tmp_path / "export")
    return tmp_path / "export"


def test_a_pool_export_loads_with_datasets_and_trains_two_trl_sft_steps(tiny_llama_dir, tmp_path):
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    out = _pool_export(tmp_path)
    by_file = load_dataset("json", data_files=str(out / "dataset.jsonl"), split="train")
    by_card = load_dataset(str(out), split="train")  # README.md's configs point at dataset.jsonl
    assert by_file.num_rows == by_card.num_rows == 6
    assert by_card[0]["messages"] == [_user("Question number 0 about Brindlecove?"), _bot("Answer number 0: the harbor.")]
    readme = (out / "README.md").read_text()
    assert str(tmp_path) not in readme and "my-base" in readme and "HuggingFaceTB/SmolLM2-135M-Instruct" in readme

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama_dir)
    args = SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=2, per_device_train_batch_size=2, report_to=[],
                     use_cpu=True, logging_steps=1, save_strategy="no", max_length=128, learning_rate=1e-3)
    trainer = SFTTrainer(model=model, args=args, train_dataset=by_card, processing_class=tokenizer)
    result = trainer.train()
    assert result.global_step == 2
    losses = [r["loss"] for r in trainer.state.log_history if "loss" in r]
    assert len(losses) == 2 and all(x == x and x > 0 for x in losses)


def test_prompt_completion_data_trains_in_trl_and_in_kd_studio_alike(tiny_llama_dir, tmp_path):
    """The form PD writes (prompt, completion, teacher_prompt beside them) is TRL's."""
    from datasets import load_dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows = [{"prompt": f"Where is harbor {i}?", "completion": f"Harbor {i} is in Kell.", "teacher_prompt": f"Doc {i}.\n\n---\n\nWhere is harbor {i}?"}
            for i in range(4)]
    path = _jsonl(tmp_path / "train-kd.jsonl", rows)
    ds = load_dataset("json", data_files=str(path), split="train").remove_columns(["teacher_prompt"])
    args = SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=2, per_device_train_batch_size=2, report_to=[],
                     use_cpu=True, logging_steps=1, save_strategy="no", max_length=128)
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_llama_dir), args=args, train_dataset=ds,
                         processing_class=AutoTokenizer.from_pretrained(tiny_llama_dir))
    assert trainer.train().global_step == 2
    assert [e.teacher_prompt for e in read_examples(path)] == [r["teacher_prompt"] for r in rows]
