"""A TuneShift-KD run's report: rounds, per-arm data, training, evaluations and accuracy
split by fact coverage, as data (``report/results.json``) and as ``report/report.md`` and
a self-contained ``report/report.html``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from kd_core.data.files import damaged, load_json, write_atomic
from kd_core.data.references import Coverage, coverage
from kd_core.errors import KDError
from kd_core.evaluation.coverage import AnswerCoverage
from kd_core.evaluation.stats import accuracy_text, compare_files, paired_text
from kd_core.tuneshift.recipe_config import DATA_DIR, REPORT_DIR, Arm, TuneShiftRecipe

if TYPE_CHECKING:
    from kd_core.tuneshift.pool import Pool


def _coverage(project: Path, arm: str, facts: Coverage) -> tuple[set[str], int] | None:
    """(the facts an arm's dataset states, how many of its pairs state none), or None
    before the arm has data."""
    path = project / DATA_DIR / arm / "dataset.jsonl"
    if not path.exists():
        return None
    covered: set[str] = set()
    empty = 0
    for line in path.open():
        row = json.loads(line)
        if row.get("source") == "replay":
            continue
        m = row["messages"]
        stated = facts.stated(m[0]["content"], m[1]["content"])
        covered |= stated
        empty += not stated
    return covered, empty


def _answer_coverage(questions: str) -> AnswerCoverage | None:
    """Which held-out questions a pair answers, for a question set without a world's facts."""
    from kd_core.evaluation.qa import question_set

    try:
        return AnswerCoverage(question_set(questions))
    except (KDError, ValueError, OSError):
        return None  # the evaluation stage names a bad question file; the report goes on without coverage


def _split(project: Path, name: str, covered: set[str], key: str = "fact") -> dict[str, list[int]] | None:
    """[correct, n] of an evaluation on the questions whose fact (`key` "fact") or which
    question itself (`key` "id") the data carries, and on the rest."""
    import pandas as pd

    from kd_core.evaluation.qa import EVAL_DIR

    path = project / EVAL_DIR / name / "items.jsonl"
    if not path.exists():
        return None
    try:
        items = pd.read_json(path, lines=True)
    except ValueError as e:
        damaged(path, f"not valid JSON lines: {e}")
        return None
    if key not in items:
        return None
    cov = items[key].astype(str).isin(covered)
    return {"covered": [int(items.correct[cov].sum()), int(cov.sum())], "not_covered": [int(items.correct[~cov].sum()), int((~cov).sum())]}


def _repeated(pool, data: Path, questions: str) -> int:
    """Held-out questions that an arm's training prompts repeat (exactly or nearly, by the
    pool's dedup settings): reported beside the accuracies, a check that held out means held out."""
    from kd_core.data.dedup import DedupIndex
    from kd_core.evaluation.qa import question_set

    index = DedupIndex(pool.dedup_config)
    prompts = [json.loads(line)["messages"][0]["content"] for line in data.open()]
    index.add_many(list(range(len(prompts))), prompts)
    return sum(index.check(it.question) is not None for it in question_set(questions))


def _paired(project: Path, first: str, second: str, what: str) -> dict[str, Any] | None:
    """McNemar's exact test of two of the project's evaluations of the same questions
    (``eval/<name>/items.jsonl``), or None when one is missing or they differ in questions."""
    from kd_core.evaluation.qa import EVAL_DIR

    try:
        pair = compare_files(project / EVAL_DIR / first, project / EVAL_DIR / second)
    except KDError:
        return None
    return {"first": first, "second": second, "what": what, **pair.to_dict()}


def comparisons(project: Path, arms: list[Arm]) -> list[dict[str, Any]]:
    """Every before/after and arm-vs-arm comparison the report shows, each with McNemar's
    exact test: each arm after against its target before transfer, and each arm against
    the first arm of the same target (the recipe's reference), on both question sets."""
    out = []
    first: dict[str, str] = {}
    for arm in arms:
        ref = first.setdefault(arm.target, arm.name)
        for split in ("test", "control"):
            found = _paired(project, f"{arm.name}-{split}", f"{arm.target}-before-{split}", f"{arm.name} after vs before ({split})")
            if found:
                out.append(found)
            if ref != arm.name:
                found = _paired(project, f"{arm.name}-{split}", f"{ref}-{split}", f"{arm.name} vs {ref} ({split})")
                if found:
                    out.append(found)
    return out


def build_report(recipe: TuneShiftRecipe, project: Path, pool: Pool, arms: list[Arm], adapters: dict[str, str]) -> dict[str, Any]:
    """Everything the report shows, as data: rounds, per-arm data, training, evaluations,
    and accuracy split by whether the arm's prompts carry the question's fact."""
    from kd_core.evaluation.qa import EVAL_DIR
    from kd_core.runtime import jobs

    def summary(name: str) -> dict | None:
        found = load_json(project / EVAL_DIR / name / "summary.json")  # a damaged one is named and counts as missing
        return found if isinstance(found, dict) else None

    counts = pool.counts()
    out: dict[str, Any] = {
        "recipe": recipe.name,
        "pool": {"total": counts.total, "by_state": counts.by_state, "by_label": counts.by_label},
        "rounds": pool.get_meta("expansion.rounds", []),
        "teacher": {s: summary(f"teacher-{s}") for s in ("test", "control")},
        "targets": {t: {s: summary(f"{t}-before-{s}") for s in ("test", "control")} for t in dict.fromkeys(a.target for a in arms)},
        "arms": {},
    }
    facts_total = None
    # The held-out questions' facts, when their source can tell which facts a training
    # pair states (the demo world's question sets can); for any other question set, which
    # held-out questions a pair answers (kd_core.evaluation.coverage).
    facts = coverage(recipe.eval.questions) or _answer_coverage(recipe.eval.questions)
    out["coverage_unit"] = "questions" if isinstance(facts, AnswerCoverage) else "facts"
    for arm in arms:
        row: dict[str, Any] = {"target": arm.target, "select": arm.select, "threshold": arm.threshold}
        data = project / DATA_DIR / arm.name / "dataset.jsonl"
        sources = [json.loads(line).get("source") for line in data.open()] if data.exists() else None
        row["prompts"] = sum(s not in ("replay", "sample") for s in sources) if sources is not None else None
        row["replay"] = sources.count("replay") if sources is not None else 0
        row["samples"] = sources.count("sample") if sources is not None else 0
        if arm.name in adapters:
            status = jobs.job_status(Path(adapters[arm.name]).parent)
            row["train"] = {k: (status.get("summary") or {}).get(k) for k in ("steps", "wall_s", "examples", "tokens_per_s", "final_loss")}
            row["job"] = Path(adapters[arm.name]).parent.name
        row["test"], row["control"] = summary(f"{arm.name}-test"), summary(f"{arm.name}-control")
        teacher = out["teacher"]["test"]
        if row["test"] and teacher:
            row["of_teacher"] = round(row["test"]["accuracy"] / teacher["accuracy"], 3) if teacher["accuracy"] else None
        if data.exists():
            row["held_out_repeated"] = _repeated(pool, data, recipe.eval.questions)
        found = _coverage(project, arm.name, facts) if facts is not None else None
        if found is not None:
            covered, row["prompts_without_fact"] = found
            facts_total = facts.total
            row["facts_covered"] = len(covered)
            row["split"] = {n: _split(project, n, covered, facts.key) for n in (f"{arm.name}-test", "teacher-test")}
        out["arms"][arm.name] = row
    out["facts_total"] = facts_total
    out["comparisons"] = comparisons(project, arms)
    return out


def _pct(s: dict | None) -> str:
    return accuracy_text(s["correct"], s["n"]) if s else "-"


def _frac(pair: list[int] | None) -> str:
    return accuracy_text(pair[0], pair[1]) if pair and pair[1] else "-"


def report_markdown(report: dict[str, Any]) -> str:
    t = report["teacher"]
    lines = [f"# TuneShift-KD run: {report['recipe']}", "",
             f"Pool: {report['pool']['total']} prompts; " + ", ".join(f"{k} {v}" for k, v in report['pool']['by_state'].items() if v), "",
             "## Rounds", "", "| round | prompts added | new above the threshold | new high-gap names | pool size |",
             "| --- | --- | --- | --- | --- |"]
    for r in report["rounds"]:
        added = sum(int(g.get("added", 0)) for g in (r.get("generators") or {}).values())
        lines.append(f"| {r.get('round')} | {added} | {r.get('new_above', '-')} | {r.get('new_names', '-')} "
                     f"| {r.get('pool_size', '-')} |")
    lines += ["", "## Held-out accuracy", "",
              f"Teacher (fine-tuned source): test {_pct(t['test'])}, control {_pct(t['control'])}", ""]
    for name, s in report["targets"].items():
        lines.append(f"{name} before transfer: test {_pct(s['test'])}, control {_pct(s['control'])}")
    by_question = report.get("coverage_unit") == "questions"
    carried = ("Questions carried: how many held-out questions the arm's data answers (an answer states the gold answer, "
               "and the pair names what the question asks about: kd_core/evaluation/coverage.py)" if by_question else
               "Facts carried: how many of the world's facts the arm's prompts and answers state")
    lines += ["", carried + "; covered / not covered: "
              "accuracy on the held-out questions the arm's data carries, and on the others; repeated: held-out "
              "questions that a training prompt repeats, exactly or nearly.", "",
              f"| arm | target | data | prompts | {'questions' if by_question else 'facts'} carried | test | of teacher | control "
              "| covered: arm / teacher "
              "| not covered: arm | repeated | train wall |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, a in report["arms"].items():
        data = a["select"] + (f" >= {a['threshold']}" if a["select"] == "threshold" else "")
        data += f" + {a['samples']} sampled answers" if a.get("samples") else ""
        data += f" + {a['replay']} replay" if a.get("replay") else ""
        split = a.get("split") or {}
        mine, teacher = split.get(f"{name}-test") or {}, split.get("teacher-test") or {}
        facts = (f"{a['facts_covered']}/{report['facts_total']} ({a['prompts_without_fact']} prompts state none)"
                 if a.get("facts_covered") is not None else "-")
        ratio = f"{100 * a['of_teacher']:.0f}%" if a.get("of_teacher") is not None else "-"
        wall = f"{a['train']['wall_s']:.0f} s" if a.get("train") and a["train"].get("wall_s") else "-"
        lines.append(f"| {name} | {a['target']} | {data} | {a['prompts'] or '-'} | {facts} | {_pct(a['test'])} | {ratio} | "
                     f"{_pct(a['control'])} | {_frac(mine.get('covered'))} / {_frac(teacher.get('covered'))} | {_frac(mine.get('not_covered'))} | "
                     f"{a.get('held_out_repeated', '-')} | {wall} |")
    if report.get("comparisons"):
        lines += ["", "## Paired comparisons", "",
                  "Each pair answered the same questions; McNemar's exact test on the questions only one of them got right "
                  "(p: how likely a split at least this uneven is if the two were equally good). Accuracies above: "
                  "95% Wilson intervals.", "",
                  "| comparison | questions | right only in the first / only in the second, p |", "| --- | --- | --- |"]
        lines += [f"| {c['what']} | {c['n']} | {paired_text(c)} |" for c in report["comparisons"]]
    if report.get("stage_wall_s"):
        lines += ["", "## Stage wall times", "", "| stage | seconds |", "| --- | --- |"]
        lines += [f"| {k} | {v:.0f} |" for k, v in report["stage_wall_s"].items()]
    return "\n".join(lines) + "\n"


def write_report(project: Path, report: dict[str, Any], pool: Pool, recipe: TuneShiftRecipe) -> Path:
    """``report/results.json``, ``report/report.md`` and ``report/report.html`` (plotly.js
    inlined once: it opens offline)."""
    from kd_core import figures
    from kd_core.evaluation.qa import project_results
    from kd_core.runtime import jobs
    from kd_core.tuneshift.expansion import scored_frame

    out = project / REPORT_DIR
    out.mkdir(parents=True, exist_ok=True)
    md = report_markdown(report)
    write_atomic(out / "report.md", md)
    write_atomic(out / "results.json", json.dumps(report, indent=2) + "\n")
    frame = scored_frame(pool)
    figs = [figures.gap_scatter(frame, recipe.expand.gap.metric, recipe.expand.gap.threshold, title="The pool: perplexity gap")
            if len(frame) else figures.empty_figure("The pool holds no scored prompt")]
    for name, a in report["arms"].items():
        if a.get("job"):
            figs.append(figures.loss_curve(jobs.read_log(jobs.jobs_dir(project) / a["job"]), title=f"Training loss: {name}"))
    results = project_results(project)
    figs.append(figures.accuracy_bars(results[results["questions"] == recipe.eval.questions] if len(results) else results))
    parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figs)]
    write_atomic(out / "report.html", report_page(report["recipe"], md, parts))
    return out / "report.html"


def report_page(title: str, md: str, parts: Sequence[str] = ()) -> str:
    """A self-contained HTML page of a report's Markdown, then `parts` (figures' HTML)."""
    import html

    from markdown_it import MarkdownIt  # gradio's dependency

    # html off: names people typed (recipe, arms, models) come out as text, never as live tags.
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}table{border-collapse:collapse}"
            "td,th{border:1px solid #ccc;padding:3px 6px}</style></head><body>"
            + body + "".join(parts) + "</body></html>")
