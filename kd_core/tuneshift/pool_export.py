"""The curated pool as a training dataset, with a dataset card.

`export_dataset` writes four files into a folder:

- ``dataset.jsonl`` and ``dataset.parquet``: one record per prompt in chat form (TRL's
  conversational form), ``{"messages": [{"role": "user", "content": prompt},
  {"role": "assistant", "content": response}], "id", "source", "round", "gap"}``,
  ordered by id;
- ``README.md``: the dataset card as the Hub reads it, YAML front matter (``configs``
  pointing at dataset.jsonl, so ``datasets.load_dataset(folder)`` reads it as the
  ``train`` split; its features and row count) and what is in it and how it was made
  (counts by state / round / source, the gap metric and thresholds, the models, dedup
  settings, each file's SHA-256);
- ``data_card.json``: the same facts as data, for programs.

Nothing machine-local goes in: the pool is named by its folder, models as the Hub
names them (kd_core.data.cards).

Prompts without a response (accepted before they were answered, or edited since) are
skipped and counted: the count is in the result, the data card and the CLI's output.
`require_responses=True` refuses the export instead.  Nothing to export at all is an
error.

The files are written with `kd_core.data.files.write_atomic_many`: all of them aside
(temporary names in the same folder, synced) before any is renamed over the old one, so
a crash while writing leaves the old export whole, and no file is ever half-written (the
data cards are renamed last).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from kd_core.data.cards import dataset_card, feature, portable_name, scrub_paths
from kd_core.data.files import jsonl_text, write_atomic_many
from kd_core.errors import KDError
from kd_core.tuneshift.pool import ACCEPTED, Pool, PoolFilter

DATASET_FILES = ("dataset.jsonl", "dataset.parquet")
CARD_FILES = ("data_card.json", "README.md")
FEATURES = [feature("messages", "messages"), feature("id", "int64"), feature("source", "string"),
            feature("round", "int64"), feature("gap", "float64")]


@dataclass
class ExportResult:
    out_dir: Path
    rows: int
    skipped_without_response: int
    files: dict[str, Path] = field(default_factory=dict)

    def summary(self) -> str:
        skipped = f" ({self.skipped_without_response} without a response skipped)" if self.skipped_without_response else ""
        return f"exported {self.rows} prompt{'s' * (self.rows != 1)} to {self.out_dir}{skipped}"


def dataset_records(pool: Pool, filter: PoolFilter | None = None) -> tuple[list[dict], int]:
    """(chat records of the matching prompts that have a response, how many had none)."""
    df = pool.query(filter if filter is not None else ACCEPTED)
    answered = df[df["response"].notna()]
    records = [
        {
            "messages": [{"role": "user", "content": r.text}, {"role": "assistant", "content": r.response}],
            "id": int(r.id),
            "source": r.source,
            "round": int(r.round),
            "gap": None if r.gap != r.gap else float(r.gap),  # NaN -> None
            "_state": r.state,
            "_gap_metric": r.gap_metric,
        }
        for r in answered.itertuples(index=False)
    ]
    return records, len(df) - len(answered)


def export_dataset(
    pool: Pool, out_dir: str | Path, filter: PoolFilter | None = None, require_responses: bool = False,
    extra: Sequence[dict] = (), extra_card: dict | None = None,
) -> ExportResult:
    """Write the dataset and its data card into out_dir (created if needed); by default
    the accepted and edited prompts. `extra` rows (chat records from outside the pool,
    e.g. a recipe arm's replay) follow the pool's, described on the card by `extra_card`."""
    filter = filter if filter is not None else ACCEPTED
    records, skipped = dataset_records(pool, filter)
    if skipped and require_responses:
        raise KDError(f"{skipped} of the selected prompts have no response yet; score them first, or export without them")
    if not records:
        extra = f" ({skipped} selected, none answered yet)" if skipped else ""
        raise KDError(f"nothing to export from {pool.path}: no selected prompt with a response{extra}")
    out = Path(out_dir).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise KDError(f"cannot create the export folder {out}: {e.strerror or e}") from None

    for name in (*DATASET_FILES, *CARD_FILES):
        if (out / name).exists() and not (out / name).is_file():
            raise KDError(f"cannot export into {out}: {out / name} is not a file")  # found before anything is replaced
    public = [{k: v for k, v in r.items() if not k.startswith("_")} for r in records] + list(extra)
    # Every file is made in memory before any is replaced: a failure while making one
    # (a value parquet refuses) leaves the old export whole.
    contents: dict[str, bytes] = {"dataset.jsonl": jsonl_text(public).encode("utf-8"), "dataset.parquet": _parquet_bytes(public)}
    card = data_card(pool, records, skipped, filter, contents)
    if extra:
        card["rows"] = len(public)
        card["added"] = scrub_paths({"rows": len(extra), **(extra_card or {})})
    contents["data_card.json"] = (json.dumps(card, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    contents["README.md"] = readme(card).encode("utf-8")
    try:
        # All four written aside and synced before any is renamed; the cards renamed last
        # (they describe the dataset files).
        write_atomic_many({out / name: contents[name] for name in (*DATASET_FILES, *CARD_FILES)})
    except OSError as e:
        raise KDError(f"cannot write the export into {out}: {e.strerror or e}") from None
    return ExportResult(out, len(public), skipped, {n: out / n for n in (*DATASET_FILES, *CARD_FILES)})


def _parquet_bytes(records: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema([
        ("messages", pa.list_(message)), ("id", pa.int64()), ("source", pa.string()), ("round", pa.int64()), ("gap", pa.float64()),
    ])
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pylist(records, schema=schema), sink)
    return sink.getvalue().to_pybytes()


def _tally(records: list[dict], key: str) -> dict:
    out: dict = {}
    for r in records:
        out[r[key]] = out.get(r[key], 0) + 1
    return dict(sorted(out.items()))


def data_card(pool: Pool, records: list[dict], skipped: int, filter: PoolFilter, files: dict[str, bytes]) -> dict[str, Any]:
    """What the export holds and how it was made, as JSON-ready data; `files` are the
    dataset files' contents by name (their sizes and SHA-256 go on the card)."""
    from kd_core import __version__

    meta, counts = pool.meta(), pool.counts().to_dict()
    gaps = [r["gap"] for r in records if r["gap"] is not None]
    return {
        "kind": "kd-studio dataset",
        "kd_studio_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pool": Path(pool.path).name,  # the folder's name: the path means nothing on another machine
        "filter": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(filter).items() if v is not None},
        "rows": len(records),
        "skipped_without_response": skipped,
        "format": "chat messages (TRL's conversational form): user = prompt, assistant = the fine-tuned model's response",
        "exported": {
            "by_state": _tally(records, "_state"),
            "by_round": {str(k): v for k, v in _tally(records, "round").items()},
            "by_source": _tally(records, "source"),
        },
        "gap": {
            "metrics": sorted({r["_gap_metric"] for r in records if r["_gap_metric"]}),
            "min": min(gaps, default=None),
            "max": max(gaps, default=None),
            "mean": sum(gaps) / len(gaps) if gaps else None,
        },
        "models": {role: portable_name(n) if isinstance(n, str) else scrub_paths(n) for role, n in meta["models"].items()}
        if isinstance(meta.get("models"), dict) else scrub_paths(meta.get("models")),
        "thresholds": meta.get("thresholds"),
        "dedup": meta.get("dedup"),
        "settings": scrub_paths({k: v for k, v in meta.items() if k not in ("models", "thresholds", "dedup")}),
        "pool_counts": {**counts, "by_round": {str(k): v for k, v in counts["by_round"].items()}},
        "files": {name: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()} for name, data in files.items()},
    }


def _md_table(rows: dict[str, int] | dict[str, dict], first: str) -> list[str]:
    if not rows:
        return ["(none)", ""]
    return [f"| {first} | prompts |", "| --- | ---: |", *(f"| {k} | {v} |" for k, v in rows.items()), ""]


def readme(card: dict[str, Any]) -> str:
    """The dataset card (README.md): the Hub's front matter, then `card_markdown`."""
    load = ["## Load it", "", "```python", "from datasets import load_dataset", "",
            'ds = load_dataset("path/to/this/folder", split="train")  # or: load_dataset("json", data_files="dataset.jsonl")',
            "```", "", "Each row's `messages` is TRL's conversational form: `trl.SFTTrainer` trains on it as it is.", ""]
    body = card_markdown(card).split("\n")
    body[1:1] = ["", *load]  # after the title
    return dataset_card([{"name": "default", "file": "dataset.jsonl", "rows": card["rows"], "features": FEATURES}],
                        scrub_paths("\n".join(body)), tags=["synthetic", "conversational", "tuneshift-kd"],
                        pretty_name="KD Studio dataset")


def card_markdown(card: dict[str, Any]) -> str:
    """The data card for people."""
    gap = card["gap"]
    lines = [
        "# KD Studio dataset",
        "",
        f"- Created: {card['created_at']} by KD Studio {card['kd_studio_version']}",
        f"- From the pool: `{card['pool']}`",
        f"- Selection: {json.dumps(card['filter'])}",
        f"- Rows: **{card['rows']}** ({card['format']})",
        f"- Selected but without a response (skipped): {card['skipped_without_response']}",
        *([f"- Added beside the pool's prompts: {card['added']['rows']} rows "
           f"({', '.join(f'{k}: {v}' for k, v in card['added'].items() if k != 'rows')})"] if card.get("added") else []),
        "",
        "## Models",
        "",
        *([f"- {role}: `{name}`" for role, name in card["models"].items()] if isinstance(card["models"], dict)
          else [f"- {card['models']}" if card["models"] else "- not recorded"]),
        "",
        "## Gap and thresholds",
        "",
        f"- Gap metric(s): {', '.join(gap['metrics']) or 'none recorded'}",
        f"- Gap over the rows: min {_num(gap['min'])}, mean {_num(gap['mean'])}, max {_num(gap['max'])}",
        f"- Thresholds: {json.dumps(card['thresholds']) if card['thresholds'] is not None else 'not recorded'}",
        f"- Dedup: {json.dumps(card['dedup'])}",
        "",
        "## Rows by state",
        "",
        *_md_table(card["exported"]["by_state"], "state"),
        "## Rows by round",
        "",
        *_md_table(card["exported"]["by_round"], "round"),
        "## Rows by source",
        "",
        *_md_table(card["exported"]["by_source"], "source"),
        "## The whole pool",
        "",
        "| state | prompts |",
        "| --- | ---: |",
        *(f"| {k} | {v} |" for k, v in card["pool_counts"]["by_state"].items()),
        f"| total | {card['pool_counts']['total']} |",
        "",
        "## Files",
        "",
        *(f"- `{name}`: {f['bytes']} bytes, sha256 `{f['sha256']}`" for name, f in card["files"].items()),
        "",
    ]
    if card["settings"]:
        lines[-1:-1] = ["## Other settings", "", "```json", json.dumps(card["settings"], indent=2), "```", ""]
    return "\n".join(lines)


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"
