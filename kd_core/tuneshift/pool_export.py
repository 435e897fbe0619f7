"""The curated pool as a training dataset, with a data card.

`export_dataset` writes four files into a folder:

- ``dataset.jsonl`` and ``dataset.parquet``: one record per prompt in chat form,
  ``{"messages": [{"role": "user", "content": prompt}, {"role": "assistant",
  "content": response}], "id", "source", "round", "gap"}``, ordered by id;
- ``data_card.json`` and ``data_card.md``: what is in it and how it was made (counts
  by state / round / source, the gap metric and thresholds, the models, dedup
  settings, each file's SHA-256).

Prompts without a response (accepted before they were answered, or edited since) are
skipped and counted: the count is in the result, the data card and the CLI's output.
`require_responses=True` refuses the export instead.  Nothing to export at all is an
error.

Every file is written to a temporary name in the same folder, synced, then renamed
over the old one, so a crash never leaves a half-written file: the folder holds the
old export or the new one, file by file (the data cards are replaced last).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from kd_core.errors import KDError
from kd_core.tuneshift.pool import ACCEPTED, Pool, PoolFilter

DATASET_FILES = ("dataset.jsonl", "dataset.parquet")
CARD_FILES = ("data_card.json", "data_card.md")


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
    writers: dict[str, Callable[[Path], None]] = {
        "dataset.jsonl": lambda p: p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in public), encoding="utf-8"),
        "dataset.parquet": lambda p: _write_parquet(public, p),
    }
    temps: dict[str, Path] = {}
    try:
        for name, write in writers.items():
            temps[name] = _temp_write(out, name, write)
        card = data_card(pool, records, skipped, filter, {n: p for n, p in temps.items()})
        if extra:
            card["rows"] = len(public)
            card["added"] = {"rows": len(extra), **(extra_card or {})}
        temps["data_card.json"] = _temp_write(out, "data_card.json", lambda p: p.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"))
        temps["data_card.md"] = _temp_write(out, "data_card.md", lambda p: p.write_text(card_markdown(card), encoding="utf-8"))
        for name in (*DATASET_FILES, *CARD_FILES):
            os.replace(temps[name], out / name)
        _fsync_dir(out)
    except OSError as e:
        raise KDError(f"cannot write the export into {out}: {e.strerror or e}") from None
    finally:
        for p in temps.values():
            if p.exists():
                p.unlink()
    return ExportResult(out, len(public), skipped, {n: out / n for n in (*DATASET_FILES, *CARD_FILES)})


def _temp_write(folder: Path, name: str, write: Callable[[Path], None]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    path = Path(tmp)
    try:
        os.chmod(path, 0o644)  # mkstemp makes it private; the export is an ordinary file
        write(path)
        with open(path, "rb") as f:
            os.fsync(f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not every platform opens folders
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_parquet(records: list[dict], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema([
        ("messages", pa.list_(message)), ("id", pa.int64()), ("source", pa.string()), ("round", pa.int64()), ("gap", pa.float64()),
    ])
    pq.write_table(pa.Table.from_pylist(records, schema=schema), path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _tally(records: list[dict], key: str) -> dict:
    out: dict = {}
    for r in records:
        out[r[key]] = out.get(r[key], 0) + 1
    return dict(sorted(out.items()))


def data_card(pool: Pool, records: list[dict], skipped: int, filter: PoolFilter, files: dict[str, Path]) -> dict[str, Any]:
    """What the export holds and how it was made, as JSON-ready data."""
    from kd_core import __version__

    meta, counts = pool.meta(), pool.counts().to_dict()
    gaps = [r["gap"] for r in records if r["gap"] is not None]
    return {
        "kind": "kd-studio dataset",
        "kd_studio_version": __version__,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "pool": str(pool.path),
        "filter": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(filter).items() if v is not None},
        "rows": len(records),
        "skipped_without_response": skipped,
        "format": "chat messages: user = prompt, assistant = the fine-tuned model's response",
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
        "models": meta.get("models"),
        "thresholds": meta.get("thresholds"),
        "dedup": meta.get("dedup"),
        "settings": {k: v for k, v in meta.items() if k not in ("models", "thresholds", "dedup")},
        "pool_counts": {**counts, "by_round": {str(k): v for k, v in counts["by_round"].items()}},
        "files": {name: {"bytes": p.stat().st_size, "sha256": _sha256(p)} for name, p in files.items()},
    }


def _md_table(rows: dict[str, int] | dict[str, dict], first: str) -> list[str]:
    if not rows:
        return ["(none)", ""]
    return [f"| {first} | prompts |", "| --- | ---: |", *(f"| {k} | {v} |" for k, v in rows.items()), ""]


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
        *([f"- {role}: `{name}`" for role, name in card["models"].items()] if isinstance(card["models"], dict) else [f"- {card['models']}" if card["models"] else "- not recorded"]),
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
