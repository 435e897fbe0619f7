"""`kd-studio score` end to end on tiny models, in-process: files written, summary
printed, bad input answered with one line and exit status 2."""

import json

import pytest

from kd_core.cli import main
from kd_core.tuneshift.gaps import load_scores


def test_score_writes_table_and_figures(tmp_path, tiny_llama_dir, tiny_llama_adapter, capsys):
    prompts = tmp_path / "prompts.jsonl"
    rows = [{"prompt": "Who built the tower?"}, {"prompt": "Where is the salt market?"}, {"oops": 1},
            {"prompt": "Who built the tower?"}, {"messages": [{"role": "user", "content": "Tell me about the guild."}]}]
    prompts.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "scores.parquet"
    code = main(["score", "--base", str(tiny_llama_dir), "--adapter", str(tiny_llama_adapter), "--prompts", str(prompts),
                 "--out", str(out), "--html-dir", str(tmp_path / "html"), "--max-new-tokens", "5", "--batch-size", "2",
                 "--metric", "topk", "--threshold", "0.1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    df = load_scores(out)
    assert len(df) == 3 and df.attrs["kd_scoring"]["metric"] == "topk" and df.attrs["kd_scoring"]["threshold"] == 0.1
    for name in ("gap_scatter.html", "gap_histogram.html", "top_tokens.html"):
        assert (tmp_path / "html" / name).stat().st_size > 10_000
    assert "3 prompts from" in captured.out and "1 bad row skipped" in captured.out and "1 duplicate dropped" in captured.out
    assert "skipped line 3: no 'prompt', 'messages', 'conversations' or 'instruction' field" in captured.out
    n_above = int((df["label"] == "above").sum())
    assert f"topk > 0.1: {n_above} above, {3 - n_above} below" in captured.out


@pytest.mark.parametrize(
    "make_args, expected",
    [
        (lambda d: ["--prompts", str(d["binary"])], "the file is binary, not text"),
        (lambda d: ["--prompts", str(d["tmp"] / "missing.txt")], "prompt file not found"),
        (lambda d: ["--prompts", str(d["good"]), "--k", "0"], "k must be at least 1"),
        (lambda d: ["--prompts", str(d["good"]), "--base", str(d["llama"])], "score needs a fine-tuned model"),
    ],
    ids=["binary-prompts", "missing-prompts", "bad-k", "no-finetuned"],
)
def test_score_bad_input_is_one_line_and_exit_2(tmp_path, tiny_llama_dir, make_args, expected, capsys):
    binary = tmp_path / "p.txt"
    binary.write_bytes(b"\x00\x01\x02" * 50)
    good = tmp_path / "good.txt"
    good.write_text("Who?\n")
    d = {"binary": binary, "good": good, "tmp": tmp_path, "llama": tiny_llama_dir}
    code = main(["score", "--out", str(tmp_path / "s.parquet"), *make_args(d)])
    err = capsys.readouterr().err
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("kd-studio: error: ") and expected in lines[0], err
    assert not (tmp_path / "s.parquet").exists()
