"""Model cards for what training writes: a trained LoRA adapter (`adapter_card`) and a
merged export (`merged_card`), each a ``README.md`` with the Hub's YAML front matter
(base_model, library_name, tags, and a model-index when evaluation results are known)
and the story for people: how to load it, the data it learned from, the method and its
settings, the run's figures, evaluation results with the commands that made them.

Nothing machine-local goes in: the base is named as the Hub names it
(kd_core.data.cards.portable_name), and every other value passes through `scrub_paths`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from kd_core.data.cards import card_text, read_card, scrub_paths

METHOD_TAGS = {"sft": ["sft"], "kd": ["knowledge-distillation"], "mix": ["sft", "knowledge-distillation"]}
METHOD_TEXT = {
    "sft": "supervised fine-tuning: cross-entropy on the response tokens only",
    "kd": "knowledge distillation: forward KL from the teacher's next-token distribution on the response tokens",
    "mix": "a weighted mix of cross-entropy and knowledge distillation on the response tokens",
}


@dataclass
class EvalResult:
    """One evaluation of the model a card describes, and the command that made it."""

    dataset: str  # the question set (a file name or a reference such as demo:test)
    metric: str  # accuracy, exact_match, ...
    value: float
    command: str = ""  # how to reproduce it
    n: int | None = None  # questions
    note: str = ""  # e.g. the base model's figure for comparison


@dataclass
class AdapterFacts:
    """What an adapter's card says; every field optional but the base."""

    base: str  # as portable_name gives it
    loss: str = "sft"
    teacher: str | None = None  # None with loss sft; "self (adapter disabled)" for prompt distillation
    config: dict[str, Any] = field(default_factory=dict)  # TrainConfig.to_dict()
    summary: dict[str, Any] = field(default_factory=dict)  # train_lora's summary
    data: dict[str, Any] = field(default_factory=dict)  # {"source", "rows", "examples", "formats", ...}
    evaluation: Sequence[EvalResult] = ()
    title: str | None = None
    description: str = ""  # a paragraph of its own (what the adapter is for)
    license: str | None = None


def _versions() -> str:
    import peft
    import torch
    import transformers

    from kd_core import __version__

    return (f"- KD Studio {__version__}\n- PEFT {peft.__version__}\n- Transformers {transformers.__version__}\n"
            f"- PyTorch {torch.__version__}")


def _code(text: str) -> str:
    """A file name as code; a sentence as it is."""
    return text if " " in text else f"`{text}`"


def _method_tags(facts: AdapterFacts) -> list[str]:
    tags = list(METHOD_TAGS.get(facts.loss, []))
    if facts.loss != "sft" and (facts.teacher or "").startswith("self"):
        tags.append("prompt-distillation")
    return tags


def _model_index(name: str, results: Sequence[EvalResult]) -> list[dict[str, Any]] | None:
    if not results:
        return None
    return [{"name": name, "results": [
        {"task": {"type": "question-answering", "name": "closed-book QA"},
         "dataset": {"name": r.dataset, "type": r.dataset},
         "metrics": [{"type": r.metric, "value": round(float(r.value), 4), "name": r.metric}]}
        for r in results]}]


def _eval_section(results: Sequence[EvalResult], how: str) -> list[str]:
    lines = ["## Evaluation", ""]
    if not results:
        return lines + ["Not evaluated when this card was written. Closed-book QA accuracy on a question set "
                        "(JSONL of `question`, `answer`):", "", "```bash", how, "```", ""]
    lines += ["| question set | metric | value | questions | note |", "| --- | --- | ---: | ---: | --- |"]
    lines += [f"| {r.dataset} | {r.metric} | {r.value:.3f} | {r.n if r.n is not None else ''} | {r.note} |" for r in results]
    commands = [r.command for r in results if r.command]
    if commands:
        lines += ["", "Made with:", "", "```bash", *dict.fromkeys(commands), "```"]
    return lines + [""]


def _settings_table(config: dict[str, Any]) -> list[str]:
    skip = {"output_dir"}  # the job's own folder: machine-local, and not a setting
    rows = []
    for k, v in config.items():
        if k in skip:
            continue
        if isinstance(v, dict):
            rows += [(f"{k}.{k2}", v2) for k2, v2 in v.items()]
        else:
            rows.append((k, v))
    return ["| setting | value |", "| --- | --- |", *(f"| {k} | `{v}` |" for k, v in rows), ""]


def adapter_card(facts: AdapterFacts) -> str:
    """The README.md of a LoRA adapter folder."""
    results = [EvalResult(**scrub_paths(r.__dict__)) for r in facts.evaluation]
    facts = AdapterFacts(**scrub_paths({k: v for k, v in facts.__dict__.items() if k != "evaluation"}))
    front = {
        "base_model": facts.base,
        "library_name": "peft",
        "pipeline_tag": "text-generation",
        "license": facts.license,
        "tags": [f"base_model:adapter:{facts.base}", "lora", "peft", "transformers", "kd-studio", *_method_tags(facts)],
        "model-index": _model_index(facts.title or f"LoRA for {facts.base}", results),
    }
    cfg, s, data = facts.config, facts.summary, facts.data
    lora = cfg.get("lora", {})
    method = METHOD_TEXT.get(facts.loss, facts.loss)
    if "prompt-distillation" in _method_tags(facts):
        method += (" (prompt distillation: the teacher is the base model itself reading the source document "
                   "before the question; the student sees the question alone)")
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    body = [
        f"# {facts.title or 'LoRA adapter for ' + facts.base}",
        "",
        *([facts.description, ""] if facts.description else []),
        f"A LoRA adapter (rank {lora.get('r', '?')}) for [`{facts.base}`](https://huggingface.co/{facts.base}), "
        f"trained with KD Studio by {method}. Written {created}.",
        "",
        "## How to use",
        "",
        "```python",
        "from peft import AutoPeftModelForCausalLM",
        "from transformers import AutoTokenizer",
        "",
        'model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/folder")  # fetches the base by its id',
        'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")  # the chat template it was trained with',
        "```",
        "",
        f"In KD Studio it is a fine-tuned model: `--finetuned {facts.base} --adapter path/to/this/folder` "
        "(`kd-studio eval`, `run`, `score`), or the Models tab.",
        "",
        "## Training data",
        "",
    ]
    if data:
        formats = ", ".join(f"{k}: {v}" for k, v in (data.get("formats") or {}).items())
        body += [
            f"- From: {_code(data.get('source')) if data.get('source') else 'not recorded'}",
            f"- Rows: {data.get('rows', 'not recorded')}" + (f" (forms: {formats})" if formats else ""),
            f"- Training examples: {s.get('examples', data.get('examples', 'not recorded'))} "
            "(one per assistant turn; loss on the response tokens only)",
            *([f"- Tokens per epoch: {s['tokens_per_epoch']}"] if s.get("tokens_per_epoch") else []),
            *([f"- {line}"] if (line := data.get("note")) else []),
            "",
        ]
    else:
        body += ["Not recorded.", ""]
    body += [
        "## Training procedure",
        "",
        f"- Method: {method}",
        *([f"- Teacher: `{facts.teacher}`"] if facts.teacher else []),
        ("- Full fine-tune: every transformer block and the final norm trained in full (stored as peft's "
         "modules_to_save); the token embedding frozen" if lora.get("full_blocks") else
         f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}, dropout={lora.get('dropout')}, "
         f"target modules {lora.get('target_modules')}"),
        *([f"- Compute: {s['compute']}"] if s.get("compute") else []),
        "",
        *(_settings_table(cfg) if cfg else []),
    ]
    figures = [("optimizer steps", s.get("steps")), ("mean training loss", s.get("train_loss")),
               ("last logged loss", s.get("final_loss")), ("evaluation examples (held out)", s.get("eval_examples")),
               ("best eval loss", s.get("best_eval_loss")), ("step of the best eval loss", s.get("best_eval_step")),
               ("final eval loss", s.get("final_eval_loss")), ("adapter saved from", s.get("best_checkpoint")),
               ("stopped early", s.get("stopped_early") or None),
               ("tokens/s", s.get("tokens_per_s")), ("wall time (s)", s.get("wall_s")), ("adapter size (MB)", s.get("adapter_mb"))]
    figures = [(k, v) for k, v in figures if v is not None]
    if figures:
        body += ["## Training results", "", "| figure | value |", "| --- | ---: |", *(f"| {k} | {v} |" for k, v in figures), ""]
    how = (f"kd-studio eval --role finetuned --finetuned {facts.base} --adapter path/to/this/folder "
           "--questions questions.jsonl")
    body += _eval_section(results, how)
    body += ["## Framework versions", "", _versions(), ""]
    return card_text(front, scrub_paths("\n".join(body)))


def merged_card(base: str, check: dict[str, Any], adapter_readme: Path | None = None, license: str | None = None) -> str:
    """The README.md of a merged export: the merge and its check, then the adapter's own
    card (its data, settings and evaluation) when it has one."""
    adapter_meta, adapter_body = read_card(adapter_readme) if adapter_readme and adapter_readme.is_file() else ({}, "")
    tags = [t for t in adapter_meta.get("tags", []) if not t.startswith("base_model:adapter:") and t not in ("lora", "peft")]
    front = {
        "base_model": base,
        "base_model_relation": "finetune",
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "license": license or adapter_meta.get("license"),
        "tags": list(dict.fromkeys([*tags, "kd-studio", "merged-lora"])),
        "model-index": adapter_meta.get("model-index"),
    }
    body = [
        f"# {base}, fine-tuned (LoRA merged)",
        "",
        f"`{base}` with a KD Studio LoRA adapter merged into its weights ({check.get('dtype')}): "
        "a plain Transformers model, no PEFT needed.",
        "",
        "## How to use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "",
        'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")',
        'tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")',
        "```",
        "",
        "## Merge check",
        "",
        f"After saving, this folder was loaded back and its mean log-likelihood of {check.get('pairs')} (prompt, response) "
        f"pairs compared with the adapter model's: largest difference {check.get('max_abs_diff', 0):.2e} nats per "
        f"token (tolerance {check.get('tolerance')}). Weights: {check.get('size_mb')} MB.",
        "",
    ]
    if adapter_body:
        # the adapter card's sections, one heading level down, without its title and how-to
        sections = adapter_body.split("\n## ")
        kept = [sec for sec in sections[1:] if not sec.startswith(("How to use", "Framework versions"))]
        body += ["## The adapter's card", "", *("### " + sec.replace("\n### ", "\n#### ").strip() + "\n" for sec in kept)]
    body += ["## Framework versions", "", _versions(), ""]
    return card_text(front, scrub_paths("\n".join(body)))


def portable_label(label: str | None) -> str | None:
    """A model label ("name" or "name + adapter folder") with its parts named portably."""
    if not label:
        return label
    from kd_core.data.cards import portable_name

    name, _, adapter = label.partition(" + ")
    return portable_name(name) + (f" + {scrub_paths(adapter)}" if adapter else "")


def write_adapter_card(adapter_dir: str | Path, base: str, config: Any, summary: dict[str, Any], examples: Any,
                       teacher: str | None = None, evaluation: Sequence[EvalResult] = ()) -> Path:
    """Write a trained adapter's README.md (atomically) from what train_lora knows: the
    base as the user named it, the config, the run's summary, the examples (a
    kd_core.training.data.TrainingData says which file and forms they came from)."""
    from kd_core.data.cards import portable_name
    from kd_core.data.files import write_atomic

    data = {"source": getattr(examples, "source", None), "rows": getattr(examples, "rows", None) or len(examples),
            "examples": len(examples), "formats": getattr(examples, "formats", None)}
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    facts = AdapterFacts(base=portable_name(base), loss=cfg.get("loss", "sft"), teacher=portable_label(teacher),
                         config=cfg, summary=summary, data=data, evaluation=evaluation)
    path = Path(adapter_dir) / "README.md"
    write_atomic(path, adapter_card(facts))
    return path
