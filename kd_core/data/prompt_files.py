"""Reading prompt files people bring: `.txt`, `.csv`/`.tsv`, `.jsonl`/`.json`, `.parquet`.

- `.txt`: one prompt per non-empty line.
- `.csv` / `.tsv`: the `prompt` column (any case), or the only column.  A one-column
  file's first row is a header when it looks like one (``question``, ``text``, ...).
- `.jsonl`: one JSON value per line; `.json`: a list of them (or ``{"prompts": [...]}``).
  A value is a string or a row in any form training data takes
  (kd_core.data.record_formats): a ``prompt`` (text, or TRL's conversational list of
  messages; a ``completion`` beside it is ignored), chat ``messages``, ShareGPT
  ``conversations``, alpaca ``instruction``/``input``; the prompt is the last user message.
- `.parquet`: a ``prompt``, ``messages``, ``conversations`` or ``instruction`` column,
  or the only column.

A file that cannot be used at all (missing, empty, binary, not UTF-8, not valid JSON
as a whole, no usable prompt) raises `InputFileError` with one line naming the file
and, where it helps, the line.  A partly bad file keeps its good rows and reports the
bad ones with their line numbers.  Prompts are stripped; exact duplicates within the
file are dropped (first occurrence kept) and counted.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kd_core.data.record_formats import RowError, last_user_message
from kd_core.errors import InputFileError
from kd_core.limits import Limits, check_count, current as current_limits

FORMATS = {
    ".txt": "txt",
    ".text": "txt",
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# One-column CSVs: a first row with one of these names is a header, not a prompt.
_HEADER_NAMES = {"prompt", "prompts", "question", "questions", "text", "instruction", "input", "query", "user"}
_MAX_REASON = 120
MAX_FILE_MB = 100  # a prompt file this big is a mistake (a dump, a model file), not seeds: refused before it is read
MAX_PROMPT_CHARS = 20_000  # ~5k tokens: more than fits a small model's context beside its answer


@dataclass(frozen=True)
class RowProblem:
    """A row that was skipped. `line` counts from 1 in units of `unit` (line, item or row)."""

    line: int
    reason: str
    unit: str = "line"

    def __str__(self) -> str:
        return f"{self.unit} {self.line}: {self.reason}"


@dataclass
class PromptFile:
    path: str
    format: str
    prompts: list[str]
    problems: list[RowProblem] = field(default_factory=list)
    duplicates: int = 0  # exact repeats dropped (after stripping)

    @property
    def skipped(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        """One line for people: how many prompts, what was left out."""
        extra = []
        if self.skipped:
            extra.append(f"{self.skipped} bad row{'s' * (self.skipped != 1)} skipped")
        if self.duplicates:
            extra.append(f"{self.duplicates} duplicate{'s' * (self.duplicates != 1)} dropped")
        tail = f" ({', '.join(extra)})" if extra else ""
        return f"{len(self.prompts)} prompt{'s' * (len(self.prompts) != 1)} from {self.path}{tail}"


def read_prompts(path: str | Path, limits: Limits | None = None) -> PromptFile:
    """Read a prompt file in any supported format (chosen by its extension); a file with
    more prompts than `limits` allow (the process's limits by default) is refused whole."""
    limits = limits or current_limits()
    p = Path(path).expanduser()
    name = str(path)
    if not p.exists():
        raise InputFileError(f"prompt file not found: {name}")
    if p.is_dir():
        raise InputFileError(f"{name} is a directory, not a prompt file")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise InputFileError(
            f"{name}: unsupported prompt file type '{p.suffix or '(none)'}' (use one of {', '.join(sorted(FORMATS))})"
        )
    size_mb = p.stat().st_size / 2**20
    if size_mb > MAX_FILE_MB:
        raise InputFileError(f"{name}: {size_mb:,.0f} MB is more than the {MAX_FILE_MB} MB a prompt file may hold "
                             "(split it, or keep the prompts that matter)")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputFileError(f"cannot read prompt file {name}: {e.strerror or e}") from None

    if fmt == "parquet":
        rows, problems = _read_parquet(name, data, limits)
    else:
        text = decode_text(name, data)
        reader = {"txt": _read_txt, "csv": _read_csv, "tsv": _read_csv, "jsonl": _read_jsonl, "json": _read_json}[fmt]
        rows, problems = reader(name, text, fmt)
    check_count(name, len(rows), limits.prompts, "prompts", "prompts")

    prompts, seen, dups = [], set(), 0
    for prompt in rows:
        if prompt in seen:
            dups += 1
            continue
        seen.add(prompt)
        prompts.append(prompt)
    if not prompts:
        if problems:
            raise InputFileError(f"{name}: no usable prompt ({len(problems)} bad rows; first at {problems[0]})")
        raise InputFileError(f"{name}: no prompts in the file")
    return PromptFile(name, fmt, prompts, problems, dups)


# ---------------------------------------------------------------------------
# Bytes -> text


def decode_text(name: str, data: bytes) -> str:
    """An uploaded file's bytes as text, or an InputFileError naming `name` and why
    (empty, UTF-16, binary, or the first line that is not UTF-8): prompt files and
    documents take the same uploads, so they fail the same way."""
    if not data.strip():
        raise InputFileError(f"{name}: the file is empty")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputFileError(f"{name}: the file is UTF-16 encoded; save it as UTF-8")
    if b"\x00" in data[:8192]:
        raise InputFileError(f"{name}: the file is binary, not text")
    try:
        text = data.decode("utf-8-sig")  # -sig: spreadsheet exports often start with a BOM
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputFileError(f"{name}: line {line} is not valid UTF-8 (save the file as UTF-8)") from None
    if not text.strip():
        raise InputFileError(f"{name}: the file is empty")
    return text


# ---------------------------------------------------------------------------
# Formats. Each returns (prompts in file order, problems).


def _too_long(s: str) -> str:
    return f"{len(s):,} characters (a prompt may have {MAX_PROMPT_CHARS:,})" if len(s) > MAX_PROMPT_CHARS else ""


def _read_txt(name: str, text: str, fmt: str) -> tuple[list[str], list[RowProblem]]:
    prompts, problems = [], []
    for i, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and _too_long(s):
            problems.append(RowProblem(i, _too_long(s)))
        elif s:
            prompts.append(s)
    return prompts, problems


def _read_csv(name: str, text: str, fmt: str) -> tuple[list[str], list[RowProblem]]:
    delimiter = "\t" if fmt == "tsv" else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for row in reader:
            if row and any(c.strip() for c in row):
                rows.append((start, row))
            start = reader.line_num + 1  # a quoted field may span lines: a row starts after the last one
    except csv.Error as e:
        raise InputFileError(f"{name}: line {reader.line_num}: {e}") from None
    if not rows:
        raise InputFileError(f"{name}: no prompts in the file")

    header = [c.strip().lower() for c in rows[0][1]]
    if "prompt" in header:
        col, body, width = header.index("prompt"), rows[1:], len(header)
    elif len(header) == 1:
        col, width = 0, 1
        body = rows[1:] if header[0] in _HEADER_NAMES else rows
    else:
        shown = ", ".join(repr(c) for c in rows[0][1][:8])
        raise InputFileError(f"{name}: no 'prompt' column in the header (columns: {shown})")

    prompts, problems = [], []
    for line, row in body:
        if len(row) != width:  # more fields: most often a prompt with an unquoted comma, cut short
            hint = " (quote a prompt that holds a comma)" if len(row) > width else ""
            problems.append(RowProblem(line, f"{len(row)} field{'s' * (len(row) != 1)}, expected {width}{hint}"))
            continue
        value = row[col].strip()
        if not value or _too_long(value):
            problems.append(RowProblem(line, _too_long(value) or "empty prompt"))
            continue
        prompts.append(value)
    return prompts, problems


def _read_jsonl(name: str, text: str, fmt: str) -> tuple[list[str], list[RowProblem]]:
    prompts, problems = [], []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(RowProblem(line_no, f"not valid JSON ({e.msg})"))
            continue
        prompt, reason = _prompt_from_value(value)
        if prompt is None:
            problems.append(RowProblem(line_no, reason))
        else:
            prompts.append(prompt)
    return prompts, problems


def _read_json(name: str, text: str, fmt: str) -> tuple[list[str], list[RowProblem]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg == "Extra data":  # one value per line: a JSONL file with a .json name
            return _read_jsonl(name, text, "jsonl")
        raise InputFileError(f"{name}: line {e.lineno}: not valid JSON ({e.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("prompts"), list):
        data = data["prompts"]
    if isinstance(data, (dict, str)):
        data = [data]
    if not isinstance(data, list):
        raise InputFileError(f"{name}: expected a list of prompts, found a JSON {type(data).__name__}")
    prompts, problems = [], []
    for i, value in enumerate(data, 1):
        prompt, reason = _prompt_from_value(value)
        if prompt is None:
            problems.append(RowProblem(i, reason, "item"))
        else:
            prompts.append(prompt)
    return prompts, problems


def _read_parquet(name: str, data: bytes, limits: Limits) -> tuple[list[str], list[RowProblem]]:
    """The prompt column, its size checked from the footer before any page is decoded,
    then read a batch at a time with the decoded size counted as it goes: a small file
    whose dictionary pages expand to gigabytes is refused, never materialised."""
    if not data:
        raise InputFileError(f"{name}: the file is empty")
    if data[:4] != b"PAR1":
        raise InputFileError(f"{name}: not a Parquet file")
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        footer = pq.ParquetFile(io.BytesIO(data))  # the footer only: no page is decoded here
        meta, names = footer.metadata, footer.schema_arrow.names
    except Exception as e:  # pyarrow raises several kinds for damaged files
        raise InputFileError(f"{name}: cannot read Parquet ({str(e).splitlines()[0][:_MAX_REASON]})") from None
    check_count(name, meta.num_rows, limits.parquet_rows, "rows", "parquet_rows")
    check_count(name, meta.num_rows, limits.prompts, "rows (prompts)", "prompts")
    stored = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    cap = limits.parquet_uncompressed_mb * 2**20
    if stored > cap:
        raise InputFileError(f"{name}: {stored / 2**20:,.0f} MB uncompressed is more than the {limits.parquet_uncompressed_mb:,} MB "
                             "a Parquet prompt file may hold (limit parquet_uncompressed_mb)")
    cols = {c.lower(): c for c in names}
    wrap = None  # the field a nested column's values are read as
    if "prompt" in cols:
        key, wrap = cols["prompt"], "prompt"  # text, or TRL's conversational prompt (a list of messages)
    elif "messages" in cols or "conversations" in cols:
        wrap = "messages" if "messages" in cols else "conversations"
        key = cols[wrap]
    elif "instruction" in cols and "input" not in cols:
        key = cols["instruction"]
    elif len(cols) == 1:
        key = names[0]
    else:
        raise InputFileError(f"{name}: no 'prompt', 'messages', 'conversations' or 'instruction' column "
                             f"(columns: {', '.join(names[:8])}; alpaca files with an 'input' column: use JSONL)")
    if meta.num_rows == 0:
        raise InputFileError(f"{name}: no prompts in the file")
    prompts, problems, decoded, i = [], [], 0, 0
    held: tuple[Any, tuple, list] = (None, (), [])  # the dictionary last read (kept alive), its buffers, its values' prompts
    try:
        kind = footer.schema_arrow.field(key).type
        kind = kind.value_type if pa.types.is_dictionary(kind) else kind
        flat = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)
        reader = pq.ParquetFile(io.BytesIO(data), read_dictionary=[key] if flat else None)
        flat = flat and pa.types.is_dictionary(reader.schema_arrow.field(key).type)
        for batch in reader.iter_batches(batch_size=1024 if flat else 16, columns=[key]):
            column = batch.column(0)
            if flat:  # strings as dictionary + indices: a repeated value is read once, never copied per row
                buffers = tuple(b.address if b is not None else 0 for b in column.dictionary.buffers())
                if held[1] != buffers:
                    held = (column.dictionary, buffers, [_prompt_from_value(v) for v in column.dictionary.to_pylist()])
                values = [held[2][n] if n is not None else (None, "empty prompt") for n in column.indices.to_pylist()]
            else:  # nested (messages): a few rows at a time, their decoded size counted
                decoded += column.nbytes
                if decoded > cap:
                    raise InputFileError(f"{name}: more than the {limits.parquet_uncompressed_mb:,} MB a Parquet prompt file "
                                         "may hold once decoded (limit parquet_uncompressed_mb)")
                values = [_prompt_from_value({wrap: v} if wrap else v) for v in column.to_pylist()]
            for prompt, reason in values:
                i += 1
                if prompt is None:
                    problems.append(RowProblem(i, reason, "row"))
                else:
                    prompts.append(prompt)
    except InputFileError:
        raise
    except Exception as e:
        raise InputFileError(f"{name}: cannot read Parquet ({str(e).splitlines()[0][:_MAX_REASON]})") from None
    return prompts, problems


# ---------------------------------------------------------------------------
# One record -> a prompt


def _prompt_from_value(value: Any) -> tuple[str | None, str]:
    """(prompt, '') or (None, why not)."""
    if isinstance(value, str):
        return _non_empty(value)
    if value is None:
        return None, "empty prompt"
    if not isinstance(value, dict):
        return None, f"expected a string or an object, found {type(value).__name__}"
    if "prompt" in value and not isinstance(value["prompt"], (str, list)):
        return None, f"'prompt' is {type(value['prompt']).__name__}, not text"
    if isinstance(value.get("prompt"), str):
        return _non_empty(value["prompt"])
    if not any(k in value for k in ("prompt", "messages", "conversations", "instruction")):
        keys = ", ".join(list(value)[:6]) or "none"
        return None, f"no 'prompt', 'messages', 'conversations' or 'instruction' field (fields: {keys})"
    try:
        return _non_empty(last_user_message(value))
    except RowError as e:
        return None, str(e)


def _non_empty(s: str) -> tuple[str | None, str]:
    s = s.strip()
    if _too_long(s):
        return None, _too_long(s)
    return (s, "") if s else (None, "empty prompt")
