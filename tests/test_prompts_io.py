"""Prompt files in every supported format: good rows kept, bad rows reported by line,
unusable files refused with one line naming the file."""

import json

import pandas as pd
import pytest

from kd_core.data.prompt_files import RowProblem, read_prompts
from kd_core.errors import InputFileError


def write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_txt_one_prompt_per_non_empty_line_stripped(tmp_path):
    pf = read_prompts(write(tmp_path, "p.txt", "  What is salt?  \n\n\tWho built the tower?\r\n   \nWhere?\n"))
    assert pf.prompts == ["What is salt?", "Who built the tower?", "Where?"]
    assert pf.format == "txt" and pf.problems == [] and pf.duplicates == 0


def test_exact_duplicates_dropped_and_counted_first_kept(tmp_path):
    pf = read_prompts(write(tmp_path, "p.txt", "b\na\nb \n a\nc\n"))
    assert pf.prompts == ["b", "a", "c"]
    assert pf.duplicates == 2
    assert "2 duplicates dropped" in pf.summary()


def test_utf8_bom_is_not_part_of_the_first_prompt(tmp_path):
    pf = read_prompts(write(tmp_path, "p.txt", "\ufeffFirst\nSecond\n".encode("utf-8")))
    assert pf.prompts == ["First", "Second"]
    csv_pf = read_prompts(write(tmp_path, "p.csv", "\ufeffprompt,id\nHello,1\n".encode("utf-8")))
    assert csv_pf.prompts == ["Hello"]


def test_csv_prompt_column_with_bad_rows_reported_by_line(tmp_path):
    text = 'id,prompt,source\n1,"What is, with a comma?",a\n2\n3,,b\n4,"Two\nlines",c\n5,Last,d\n'
    pf = read_prompts(write(tmp_path, "p.csv", text))
    assert pf.prompts == ["What is, with a comma?", "Two\nlines", "Last"]
    assert pf.problems == [RowProblem(3, "1 field, expected 3"), RowProblem(4, "empty prompt")]
    assert pf.skipped == 2 and "2 bad rows skipped" in pf.summary()
    # A quoted field spanning lines 2-3 pushes the next row to line 4.
    pf2 = read_prompts(write(tmp_path, "q.csv", 'prompt,x\n"a\nb",1\n,2\n'))
    assert pf2.prompts == ["a\nb"] and pf2.problems == [RowProblem(4, "empty prompt")]


def test_csv_header_name_is_case_insensitive(tmp_path):
    assert read_prompts(write(tmp_path, "p.csv", "ID,Prompt\n1,Hi\n")).prompts == ["Hi"]


def test_one_column_csv_with_and_without_header(tmp_path):
    assert read_prompts(write(tmp_path, "a.csv", "question\nWhat?\nWho?\n")).prompts == ["What?", "Who?"]
    assert read_prompts(write(tmp_path, "b.csv", "What?\nWho?\n")).prompts == ["What?", "Who?"]


def test_csv_without_prompt_column_is_refused_naming_columns(tmp_path):
    p = write(tmp_path, "p.csv", "a,b\n1,2\n")
    with pytest.raises(InputFileError, match=r"p\.csv: no 'prompt' column in the header \(columns: 'a', 'b'\)"):
        read_prompts(p)


def test_tsv_uses_tabs(tmp_path):
    pf = read_prompts(write(tmp_path, "p.tsv", "prompt\tlabel\nA, with comma\tx\nB\ty\n"))
    assert pf.prompts == ["A, with comma", "B"]


def test_jsonl_prompt_field_chat_messages_and_bad_lines(tmp_path):
    lines = [
        json.dumps({"prompt": " Plain "}),
        "",
        json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "first"},
                                 {"role": "assistant", "content": "a"}, {"role": "user", "content": "last user"}]}),
        "{not json",
        json.dumps({"text": "no prompt field"}),
        json.dumps({"prompt": 3}),
        json.dumps({"messages": [{"role": "assistant", "content": "x"}]}),
        json.dumps({"messages": [{"role": "user", "content": [{"type": "text", "text": "multi"}, {"type": "image"}]}]}),
        json.dumps("a bare string"),
        json.dumps([1, 2]),
    ]
    pf = read_prompts(write(tmp_path, "p.jsonl", "\n".join(lines) + "\n"))
    assert pf.prompts == ["Plain", "last user", "multi", "a bare string"]
    assert [(p.line, p.reason.split(" (")[0]) for p in pf.problems] == [
        (4, "not valid JSON"),
        (5, "no 'prompt', 'messages', 'conversations' or 'instruction' field"),
        (6, "'prompt' is int, not text"),
        (7, "field 'messages': no user message"),
        (10, "expected a string or an object, found list"),
    ]
    assert str(pf.problems[0]).startswith("line 4: not valid JSON")


def test_json_array_reports_items(tmp_path):
    data = [{"prompt": "one"}, {"prompt": ""}, "two", {"messages": [{"role": "user", "content": "three"}]}]
    pf = read_prompts(write(tmp_path, "p.json", json.dumps(data, indent=2)))
    assert pf.prompts == ["one", "two", "three"]
    assert pf.problems == [RowProblem(2, "empty prompt", "item")]
    assert read_prompts(write(tmp_path, "q.json", json.dumps({"prompts": ["x", "y"]}))).prompts == ["x", "y"]


def test_json_file_holding_jsonl_is_read_as_jsonl(tmp_path):
    pf = read_prompts(write(tmp_path, "p.json", '{"prompt": "a"}\n{"prompt": "b"}\n'))
    assert pf.prompts == ["a", "b"]


def test_invalid_json_names_file_and_line(tmp_path):
    p = write(tmp_path, "p.json", '[\n  {"prompt": "a"},\n  {"prompt": }\n]')
    with pytest.raises(InputFileError, match=r"p\.json: line 3: not valid JSON"):
        read_prompts(p)


def test_parquet_prompt_and_messages_columns(tmp_path):
    p = tmp_path / "p.parquet"
    pd.DataFrame({"prompt": ["a", None, "b", "a"], "x": [1, 2, 3, 4]}).to_parquet(p)
    pf = read_prompts(p)
    assert pf.prompts == ["a", "b"] and pf.duplicates == 1
    assert pf.problems == [RowProblem(2, "empty prompt", "row")]
    q = tmp_path / "m.parquet"
    msgs = [[{"role": "user", "content": "hello"}], [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a"}]]
    pd.DataFrame({"messages": msgs}).to_parquet(q)
    assert read_prompts(q).prompts == ["hello", "q1"]


def test_not_parquet_with_parquet_name_is_refused(tmp_path):
    with pytest.raises(InputFileError, match=r"x\.parquet: not a Parquet file"):
        read_prompts(write(tmp_path, "x.parquet", "prompt\nhello\n"))


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("e.txt", b"", r"e\.txt: the file is empty"),
        ("w.jsonl", b"  \n\n \t\n", r"w\.jsonl: the file is empty"),
        ("bom.txt", b"\xef\xbb\xbf\n", r"bom\.txt: the file is empty"),
        ("b.txt", bytes(range(256)) * 4, r"b\.txt: the file is binary, not text"),
        ("l.txt", "ok\nfine\ncaf\xe9\n".encode("latin-1"), r"l\.txt: line 3 is not valid UTF-8"),
        ("u.csv", "prompt\nhi\n".encode("utf-16"), r"u\.csv: the file is UTF-16 encoded"),
        ("h.csv", b"prompt\n\n", r"h\.csv: no prompts in the file"),
        ("bad.jsonl", b'{"a": 1}\n[]\n', r"bad\.jsonl: no usable prompt \(2 bad rows; first at line 1: no 'prompt'"),
        ("x.docx", b"PK\x03\x04", r"x\.docx: unsupported prompt file type '\.docx'"),
    ],
    ids=["empty", "whitespace", "bom-only", "binary", "latin1", "utf16", "header-only", "all-bad", "unsupported"],
)
def test_unusable_file_raises_one_line_naming_it(tmp_path, name, content, expected):
    p = write(tmp_path, name, content)
    with pytest.raises(InputFileError, match=expected) as e:
        read_prompts(p)
    assert "\n" not in str(e.value) and str(p) in str(e.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputFileError, match="prompt file not found: .*nope.txt"):
        read_prompts(tmp_path / "nope.txt")
    with pytest.raises(InputFileError, match="is a directory"):
        read_prompts(tmp_path)
