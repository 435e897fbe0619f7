"""QA grading: normalization on tricky cases, and evaluate_qa on a real (tiny) model."""

import json

import pytest

from kd_core.errors import InputFileError
from kd_core.evaluation.qa import QAItem, evaluate_qa, is_correct, normalize_answer, read_questions
from kd_core.models.loading import ModelSpec, load_model


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The Vellmar Harbor.", "vellmar harbor"),
        ("It has twenty-one towers", "it has 21 towers"),
        ("three hundred and twelve", "312"),
        ("Two thousand three hundred fifty", "2350"),
        ("About 2,350 people", "about 2350 people"),
        ("the third of May", "3 of may"),
        ("on the 3rd day", "on 3 day"),
        ("An “Ostra’s” lamp—lit", "ostra s lamp lit"),
        ("  A  b  ", "b"),
    ],
)
def test_normalize_answer(text, expected):
    assert normalize_answer(text) == expected


@pytest.mark.parametrize(
    "answer, golds, expected",
    [
        ("It was founded in 1742.", ["1742"], True),
        ("It was founded in 17420.", ["1742"], False),  # whole numbers only
        ("Twelve lamps hang there.", ["12"], True),
        ("The founder was Ostra Quill.", ["Ostra Quill"], True),
        ("Quillian built it.", ["Quill"], False),  # whole words only
        ("Nobody knows.", ["Ostra Quill", "Quill"], False),
        ("It was Quill.", ["Ostra Quill", "Quill"], True),  # an alias counts
        ("", ["x"], False),
    ],
)
def test_is_correct(answer, golds, expected):
    assert is_correct(answer, golds) is expected


def test_evaluate_qa_grades_each_item_and_summarises(tiny_llama_dir):
    lm = load_model(ModelSpec(str(tiny_llama_dir)))
    items = [QAItem("a", "Who?", ["zzqx"]), QAItem("b", "Where?", ["the"])]
    res = evaluate_qa(lm, items)
    assert list(res.items["id"]) == ["a", "b"]
    assert res.summary["n"] == 2 and 0 <= res.summary["accuracy"] <= 1
    assert res.summary["correct"] == int(res.items["correct"].sum())
    # Exact match and token F1 beside the containment grade, per item and in the summary,
    # and the accuracy's 95% interval.
    assert {"exact_match", "f1"} <= set(res.items.columns)
    assert res.summary["exact_match_correct"] == int(res.items["exact_match"].sum())
    assert res.summary["f1"] == pytest.approx(res.items["f1"].mean(), abs=1e-4)
    lo, hi = res.summary["accuracy_ci95"]
    assert 0 <= lo <= res.summary["accuracy"] <= hi <= 1 and hi - lo > 0.3  # two questions: a wide interval
    # A gold of only an article normalizes to nothing and never counts as found.
    assert not res.items.loc[res.items["id"] == "b", "correct"].item()


def test_read_questions_names_the_bad_line(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps({"question": "A?", "answer": "b"}) + "\n{broken\n")
    with pytest.raises(InputFileError, match=r"q.jsonl, line 2: not valid JSON"):
        read_questions(p)
    p.write_text(json.dumps({"question": "A?"}) + "\n")
    with pytest.raises(InputFileError, match=r"line 1: needs a 'question' and an 'answer' \(or 'answers'\); it has no 'answer'"):
        read_questions(p)
    p.write_text(json.dumps({"question": "A?", "answers": ["b", "c"], "id": "x"}) + "\n")
    assert read_questions(p)[0].answers == ["b", "c"]


@pytest.mark.parametrize("argv, name, adapter", [
    # A trained student: the adapter goes on the model evaluated (it was silently dropped).
    (["--role", "target", "--adapter", "/jobs/j/adapter"], "demo:gemma3-270m", "/jobs/j/adapter"),
    (["--role", "target", "--target", "my/model", "--adapter", "/a"], "my/model", "/a"),
    (["--role", "finetuned", "--adapter", "/a"], "demo:smollm2-135m-instruct", "/a"),
    (["--role", "base", "--base", "my/base", "--adapter", "/a"], "my/base", "/a"),
    (["--role", "target"], "demo:gemma3-270m", None),
])
def test_eval_puts_the_adapter_on_the_model_it_evaluates(argv, name, adapter):
    from kd_core.cli import build_parser, role_specs

    args = build_parser().parse_args(["eval", "--questions", "demo:test", *argv])
    spec = role_specs(args, roles=(args.role,), adapter_to=args.role)[args.role]
    assert (spec.name, spec.adapter) == (name, adapter)


def test_other_commands_keep_the_adapter_on_the_finetuned_model():
    from kd_core.cli import build_parser, role_specs

    args = build_parser().parse_args(["models", "check", "--base", "b", "--adapter", "/a", "--target", "t"])
    specs = role_specs(args)
    assert (specs["finetuned"].name, specs["finetuned"].adapter) == ("b", "/a") and specs["target"].adapter is None
