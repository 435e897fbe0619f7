"""The uncertainty of an accuracy, and whether two evaluations of the same questions differ.

- `wilson`: the Wilson score interval of a proportion (95% by default).  Unlike the
  normal approximation it stays inside [0, 1] and is honest at 0/396 or 50/50: a
  50-question control set's interval is about +-13 points, a 396-question one's +-4.5.
- `mcnemar`: McNemar's exact test for two evaluations of the same questions (two models,
  or one model before and after training): only the discordant questions (right in one,
  wrong in the other) carry information; under "no difference" each is equally likely to
  go either way, so the two-sided p is a binomial(n_discordant, 1/2) tail.  Paired, so far
  more sensitive than comparing two intervals: two arms at 27% and 30% can differ clearly
  when they disagree on few questions, or not at all when they disagree on many.
- `grades` / `compare`: per-question grades out of an evaluation's ``items.jsonl`` (keyed by
  question id, or by question text when the two files' ids differ) and the test on two of them.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from kd_core.errors import InputFileError, KDError

Z95 = 1.96  # the usual 95% normal quantile (1.959964 rounded): the figures recorded so far use it


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval (low, high) of `correct` out of `n`; (0.0, 1.0) for n = 0."""
    if n <= 0:
        return 0.0, 1.0
    if not 0 <= correct <= n:
        raise ValueError(f"correct must lie in 0..{n} (got {correct})")
    p = correct / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_p(only_a: int, only_b: int) -> float:
    """McNemar's exact two-sided p from the discordant counts: 2 * P(X <= min) for
    X ~ Binomial(only_a + only_b, 1/2), capped at 1; 1.0 when no question is discordant."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)  # exact integers first: no underflow at n in the thousands


def mcnemar_range(correct_a: int, correct_b: int, n: int) -> tuple[float, float]:
    """(lowest, highest) McNemar p over every way two evaluations with these counts on the
    same `n` questions could pair up, for results whose per-question grades were not kept:
    when even the highest p is small the difference stands however the answers overlap, when
    even the lowest is large it is noise whatever they were."""
    if not (0 <= correct_a <= n and 0 <= correct_b <= n):
        raise ValueError(f"counts must lie in 0..{n} (got {correct_a}, {correct_b})")
    ps = [mcnemar_p(correct_a - both, correct_b - both) for both in range(max(0, correct_a + correct_b - n), min(correct_a, correct_b) + 1)]
    return min(ps), max(ps)


@dataclass(frozen=True)
class Paired:
    """Two evaluations of the same questions: how their grades cross, and McNemar's p."""

    only_a: int  # right in the first, wrong in the second
    only_b: int  # right in the second, wrong in the first
    both: int
    neither: int
    p: float

    @property
    def n(self) -> int:
        return self.only_a + self.only_b + self.both + self.neither

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "n": self.n}


def mcnemar(a: Mapping[str, bool], b: Mapping[str, bool]) -> Paired:
    """McNemar's exact test of two evaluations' grades, paired by key (question id or text);
    KDError when they did not grade the same questions."""
    if a.keys() != b.keys():
        only_in_a, only_in_b = len(a.keys() - b.keys()), len(b.keys() - a.keys())
        raise KDError(f"not the same questions: {only_in_a} only in the first evaluation, {only_in_b} only in the second "
                      "(a paired test needs both to answer the same set)")
    only_a = sum(bool(a[k]) and not b[k] for k in a)
    only_b = sum(bool(b[k]) and not a[k] for k in a)
    both = sum(bool(a[k]) and bool(b[k]) for k in a)
    return Paired(only_a, only_b, both, len(a) - only_a - only_b - both, mcnemar_p(only_a, only_b))


# ---------------------------------------------------------------------------
# Evaluations on disk


@dataclass(frozen=True)
class Grades:
    """One evaluation's per-question grades, by question id and by question text."""

    by_id: dict[str, bool]
    by_question: dict[str, bool] | None  # None when a question text occurs twice (no key)

    @property
    def correct(self) -> int:
        return sum(self.by_id.values())

    @property
    def n(self) -> int:
        return len(self.by_id)


def grades_of(rows: Iterable[Mapping[str, Any]], grade: str = "correct", where: str = "items") -> Grades:
    """Grades of evaluation rows (``id``, ``question``, and the `grade` column)."""
    by_id: dict[str, bool] = {}
    by_question: dict[str, bool] = {}
    unique_questions = True
    for n, row in enumerate(rows, 1):
        if not isinstance(row, Mapping) or grade not in row or "id" not in row:
            raise InputFileError(f"{where}, row {n}: no '{grade}' or 'id' field (not an evaluation's items)")
        key = str(row["id"])
        if key in by_id:
            raise InputFileError(f"{where}, row {n}: question id '{key}' occurs twice")
        by_id[key] = bool(row[grade])
        q = row.get("question")
        unique_questions = unique_questions and isinstance(q, str) and q not in by_question
        if unique_questions:
            by_question[q] = by_id[key]
    return Grades(by_id, by_question if unique_questions else None)


def grades(path: str | Path, grade: str = "correct") -> Grades:
    """The grades in an evaluation's ``items.jsonl`` (or the folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "items.jsonl"
    if not path.is_file():
        raise InputFileError(f"{path}: not found (an evaluation's items.jsonl)")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise InputFileError(f"{path}, line {n}: not valid JSON ({e.msg})") from None
    return grades_of(rows, grade, str(path))


def compare(a: Grades, b: Grades) -> Paired:
    """McNemar's test of two evaluations, paired by question id, or by question text when
    their ids differ (the same questions read from a file and from a reference)."""
    if a.by_id.keys() == b.by_id.keys():
        return mcnemar(a.by_id, b.by_id)
    if a.by_question is not None and b.by_question is not None and a.by_question.keys() == b.by_question.keys():
        return mcnemar(a.by_question, b.by_question)
    return mcnemar(a.by_id, b.by_id)  # raises, counting what differs


def compare_files(a: str | Path, b: str | Path, grade: str = "correct") -> Paired:
    return compare(grades(a, grade), grades(b, grade))


# ---------------------------------------------------------------------------
# How the figures are written (reports, tables, the README)


def interval_text(correct: int, n: int) -> str:
    """'23.1-31.9%': the 95% interval of an accuracy; '' when n is 0."""
    if not n:
        return ""
    lo, hi = wilson(correct, n)
    return f"{100 * lo:.1f}-{100 * hi:.1f}%"


def accuracy_text(correct: int, n: int) -> str:
    """'27.3% (108/396; 95% CI 23.1-31.9%)': every accuracy KD Studio shows."""
    if not n:
        return "-"
    return f"{100 * correct / n:.1f}% ({correct}/{n}; 95% CI {interval_text(correct, n)})"


def p_text(p: float) -> str:
    """'p = 0.42', 'p = 0.031', 'p = 2.5e-12'."""
    return f"p = {p:.2g}" if p >= 0.001 or p == 0 else f"p = {p:.1e}"


def paired_text(pair: Paired | Mapping[str, Any] | None) -> str:
    """'112 / 30, p = 2.5e-12': (right only in the first / right only in the second, McNemar's p)."""
    if pair is None:
        return "-"
    d = pair.to_dict() if isinstance(pair, Paired) else pair
    return f"{d['only_a']} / {d['only_b']}, {p_text(d['p'])}"
