"""The perplexity gap of a scored table (see kd_core.tuneshift.scoring for how the
answers are scored): the four gap metrics and their default thresholds, the label
above/below the threshold, AUROC, and the scored table as Parquet.  No torch: the UI's
Explore tab and the figures read scored tables with this alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from kd_core.data.files import write_atomic
from kd_core.errors import InputFileError, KDError

METRICS = ("logratio", "diff", "topk", "max")
# Default thresholds, measured on the demo (SmolLM2-135M + demo LoRA; all 396 held-out
# domain questions vs 100 generic control questions, greedy answers of <= 64 tokens;
# assets/demo/gap_report.json, `kd-studio demo evaluate`):
#   logratio (the default metric, AUROC 0.98): 1.0 nats keeps 96% of domain prompts and
#     11% of generic ones (Youden-best cut 1.09).  Generic answers are not at 0: the
#     fine-tune shifted the model's voice (mean 0.66), so a small tau keeps them all.
#   diff (AUROC 0.96): the paper's tau = 1.5, kept for fidelity; on the demo it keeps
#     97% / 42% (best cut 2.6: 89% / 10%).  Heavy-tailed: prefer logratio.
#   topk, k = 3 (AUROC 0.92): 4.0 nats keeps 84% / 21% (best cut 6.1: 75% / 4%).
#   max (AUROC 0.86): 8.0 nats keeps 75% / 14% (the best cut).
# A different fine-tune shifts these: look at the histogram (figures.gap_histogram).
DEFAULT_THRESHOLDS = {"logratio": 1.0, "diff": 1.5, "topk": 4.0, "max": 8.0}
GAP_COLUMNS = {m: f"gap_{m}" for m in METRICS}
LIST_COLUMNS = ("tokens", "token_ids", "token_lp_ft", "token_lp_base")
_META_KEY = b"kd_studio.scoring"


# ---------------------------------------------------------------------------
# Gaps


@dataclass
class GapConfig:
    metric: str = "logratio"  # one of METRICS
    threshold: float | None = None  # None: DEFAULT_THRESHOLDS[metric]
    k: int = 3  # tokens averaged by gap_topk

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise KDError(f"unknown gap metric '{self.metric}' (choose one of: {', '.join(METRICS)})")
        if self.k < 1:
            raise KDError(f"k must be at least 1 (got {self.k})")

    @property
    def tau(self) -> float:
        return DEFAULT_THRESHOLDS[self.metric] if self.threshold is None else float(self.threshold)

    @property
    def column(self) -> str:
        return GAP_COLUMNS[self.metric]


def token_gaps(lp_ft: Sequence[float], lp_base: Sequence[float], k: int = 3) -> tuple[float, float]:
    """(mean of the k largest, largest) per-token log p_F - log p_B; NaN for no tokens."""
    d = np.asarray(lp_ft, dtype=np.float64) - np.asarray(lp_base, dtype=np.float64)
    if d.size == 0:
        return float("nan"), float("nan")
    top = np.sort(d)[-k:]
    return float(top.mean()), float(top[-1])


def add_gaps(df: pd.DataFrame, config: GapConfig | None = None) -> pd.DataFrame:
    """Add every gap column and the label to a table with ll_*, ppl_* and token_lp_* columns."""
    config = config or GapConfig()
    df = df.copy()
    df["gap_diff"] = df["ppl_base"] - df["ppl_ft"]
    df["gap_logratio"] = df["ll_ft"] - df["ll_base"]
    if "token_lp_ft" in df and "token_lp_base" in df:
        tk = [token_gaps(f, b, config.k) for f, b in zip(df["token_lp_ft"], df["token_lp_base"])]
        df["gap_topk"] = [t[0] for t in tk]
        df["gap_max"] = [t[1] for t in tk]
    return relabel(df, config)


def relabel(df: pd.DataFrame, config: GapConfig) -> pd.DataFrame:
    """Label rows above/below the configured threshold (no rescoring; for a changed setting)."""
    if config.column not in df:
        raise KDError(f"the table has no '{config.column}' column (it was scored without per-token log-probabilities)")
    df = df.copy()
    # A NaN gap (an answer with no tokens) is not evidence of anything: "below".
    df["label"] = np.where(df[config.column].to_numpy(dtype=float) > config.tau, "above", "below")
    meta = dict(df.attrs.get("kd_scoring", {}))
    meta.update(metric=config.metric, threshold=config.tau, k=config.k)
    df.attrs["kd_scoring"] = meta
    return df


def auroc(scores: Sequence[float], labels: Sequence[bool | int]) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties count 1/2."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.size} scores but {y.size} labels")
    if np.isnan(s).any():
        raise ValueError("scores contain NaN")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUROC needs at least one positive and one negative")
    # Mann-Whitney U from average ranks (ties share their mean rank).
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def label_counts(df: pd.DataFrame) -> dict[str, int]:
    counts = df["label"].value_counts()
    return {"above": int(counts.get("above", 0)), "below": int(counts.get("below", 0))}


# ---------------------------------------------------------------------------
# Parquet


def save_scores(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a scored table as Parquet; its settings (df.attrs) go into the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[_META_KEY] = json.dumps(df.attrs.get("kd_scoring", {})).encode()
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(meta), sink)
    write_atomic(path, sink.getvalue().to_pybytes())  # a kill never leaves half a Parquet file
    return path


def load_scores(path: str | Path) -> pd.DataFrame:
    """Read a table written by `save_scores`; list columns come back as Python lists."""
    import pyarrow.parquet as pq

    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"scores file not found: {path}")
    try:
        table = pq.read_table(p)
    except Exception as e:
        raise InputFileError(f"{path}: not a readable Parquet file ({str(e).splitlines()[0][:120]})") from None
    missing = [c for c in ("prompt", "response", "ll_ft", "ll_base") if c not in table.column_names]
    if missing:
        raise InputFileError(f"{path}: not a scores table (missing columns: {', '.join(missing)})")
    meta = (table.schema.metadata or {}).get(_META_KEY)
    df = table.to_pandas()
    for c in LIST_COLUMNS:
        if c in df:
            df[c] = [None if v is None else v.tolist() for v in df[c]]
    df.attrs["kd_scoring"] = json.loads(meta) if meta else {}
    return df
