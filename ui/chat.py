"""Chat tab: two or three models answer one prompt side by side, streamed together
(`kd_core.models.chat.compare`), each answer then scored by the others' perplexity; thumbs
up / down sends the prompt to the project's pool (`kd_core.models.chat.send_to_pool`).

The module-level functions are the tab without Gradio; `build` connects them to widgets.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import gradio as gr
import pandas as pd
from gradio.context import LocalContext

from kd_core.demo.models import DEMO_ADAPTER_DIR, demo_spec
from kd_core.errors import KDError
from kd_core.models import chat
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec
from kd_core.project import Project, catalog
from ui import access
from ui.access import may, needs
from ui.errors import guarded
from ui.tab import NONE, OTHER, Context, Tab, has_project, model_name, picked, picker, picker_update, project_box, project_dir, reread

SLOTS = 3
# The demo's transfer, side by side: the fine-tuned teacher, and the target before training.
DEFAULTS = [("teacher (fine-tuned)", demo_spec("base").name, str(DEMO_ADAPTER_DIR)),
            ("target", demo_spec("target").name, ""),
            ("", "", "")]


def contestants(rows: list[tuple[Any, Any, Any, Any]]) -> list[chat.Contestant]:
    """The filled slots as Contestants: (label, model, adapter, document) each; a slot with
    no model is left out, one with an adapter or document but no model is an error."""
    out = []
    for n, (label, model, adapter, document) in enumerate(rows, 1):
        model = model_name(model)  # confined to the server's models folders and the caller's projects
        # The demo's fine-tune ships read-only with the app (as demo: models do); anything else is confined.
        adapter = str(DEMO_ADAPTER_DIR) if (adapter or "").strip() == str(DEMO_ADAPTER_DIR) else (model_name(adapter) or None)
        document = (document or "").strip() or None
        if not model:
            if adapter or document:
                raise KDError(f"Model {n}: empty, but an adapter or a document is given for it")
            continue
        # Typed on a page: remote code and pickle only as the server's own flags grant them.
        spec = ModelSpec.from_file_dict({"name": model, "adapter": adapter}, where=f"Chat, model {n}")
        out.append(chat.Contestant((label or "").strip() or f"model {n}", spec, document))
    if not out:
        raise KDError("Models: fill in at least one model (demo:NAME, a hub id or a local folder)")
    if not may("models"):  # a curator chats with what an admin loaded, and loads nothing
        loaded = set(chat.MODELS.loaded())
        missing = [c.spec.label() for c in out if c.spec.label() not in loaded]
        if missing:
            raise KDError(f"not loaded in this server: {', '.join(missing)} (an admin loads models in the Models tab)")
    return out


def score_table(found: list[chat.Contestant], ppl: list[list[float]]) -> pd.DataFrame:
    """Rows: the answer; columns: its perplexity under each model (lower: that model
    would have said it too)."""
    cols = [f"ppl under {c.label}" for c in found]
    rows = [[c.label, *[None if math.isnan(ppl[i][j]) else round(ppl[i][j], 2) for i in range(len(found))]]
            for j, c in enumerate(found)]
    return pd.DataFrame(rows, columns=["answer by", *cols])


def run(rows: list[tuple[Any, Any, Any, Any]], prompt: str, max_new_tokens: Any,
        should_stop: Callable[[], bool] | None = None) -> Iterator[tuple[list[str], pd.DataFrame | None]]:
    """Answers as they stream (one entry per slot, empty for an unused slot), then the scores;
    `should_stop` ends the generation early (its browser session has gone).  The answer
    length is capped by the server's limit and each model's context (kd_core.limits)."""
    found = contestants(rows)
    try:
        n = int(max_new_tokens)
    except (TypeError, ValueError):
        raise KDError(f"Max new tokens: {max_new_tokens!r} is not a number") from None
    if n < 1:
        raise KDError(f"Max new tokens: must be >= 1 (got {n})")
    used = [i for i, r in enumerate(rows) if (r[1] or "").strip()]
    for event in chat.compare(found, prompt, GenerationConfig(max_new_tokens=n), should_stop=should_stop):
        texts = [""] * len(rows)
        for slot, text in zip(used, event["answers"]):
            texts[slot] = text
        yield texts, score_table(found, event["perplexities"]) if "perplexities" in event else None


def vote(project: str | None, prompt: str, up: bool) -> str:
    """The prompt into the project's pool, the decision recorded under the signed-in account."""
    who = access.caller().user if access.has_accounts() else "chat"
    return chat.send_to_pool(str(project_dir(project)), prompt, "up" if up else "down", who=who)


# Generations in flight, by browser session: the page's unload event stops its own.
_IN_FLIGHT: dict[str, threading.Event] = {}


def on_leave(request: gr.Request) -> None:
    """A browser session ended (tab closed, page left): stop its generation, if any."""
    stop = _IN_FLIGHT.get(getattr(request, "session_hash", None) or "")
    if stop is not None:
        stop.set()


def recorded_teacher(root: Path) -> tuple[str, str | None] | None:
    """The fine-tuned model the project's expansion ran with, when a page may load it: its
    adapter inside the project, or the demo's own fine-tune (else the demo's, as DEFAULTS)."""
    found = catalog.teacher(root)
    if found is None or not found[1] or found[1] == str(DEMO_ADAPTER_DIR) or Project(root).contains(found[1]):
        return found
    return None


def adapter_items(project: str | None) -> list[tuple[str, str]]:
    """The adapters a slot can pick: the demo's fine-tune (the teacher), the fine-tuned
    adapter the project's expansion ran with, and every trained job's, by name."""
    items = [("teacher · the demo's fine-tune", str(DEMO_ADAPTER_DIR))]
    if not has_project(project):
        return items
    root = project_dir(project)
    recorded = recorded_teacher(root)
    if recorded and recorded[1] and recorded[1] != str(DEMO_ADAPTER_DIR):
        items.append((f"teacher · {catalog.short(recorded[0])} + the project's fine-tune", recorded[1]))
    items += [(f"student · {job.label()}", str(job.adapter)) for job in catalog.jobs(root) if job.adapter is not None]
    return items


def _graded(evaluation: catalog.Evaluation | None) -> list[dict]:
    from kd_core.data.files import read_jsonl

    if evaluation is None:
        return []
    try:
        return [r for r in read_jsonl(evaluation.folder / "items.jsonl") if isinstance(r, dict) and r.get("question")]
    except KDError:
        return []


def example_question(student: catalog.Evaluation | None, teacher: catalog.Evaluation | None = None,
                     before: catalog.Evaluation | None = None) -> str:
    """A held-out question the evaluated student answered right, the one that shows the
    transfer best: the teacher right and the target before wrong on it too, when their
    evaluations on the same questions say so."""
    rows = [r for r in _graded(student) if r.get("correct")]
    teacher_right = {r.get("id") for r in _graded(teacher) if r.get("correct")} if teacher is not None else None
    before_wrong = {r.get("id") for r in _graded(before) if not r.get("correct")} if before is not None else None
    for wanted in ((teacher_right, before_wrong), (teacher_right, None), (None, before_wrong), (None, None)):
        for r in rows:
            if all(ids is None or r.get("id") in ids for ids in wanted):
                return str(r["question"])
    return ""


def preset(project: str | None) -> tuple[list[tuple[str, str, str]], str, str]:
    """The three slots for "teacher / target before / transferred student" from the
    project's best evaluated job (kd_core.project.catalog.best_job): (label, model,
    adapter) each, a held-out question it answers, and a line saying what was filled."""
    if not has_project(project):
        raise KDError("No project open: pick one in the project bar at the top (the demo project holds a transferred student)")
    root = project_dir(project)
    job = catalog.best_job(root)
    if job is None:
        raise KDError("No evaluated job in this project yet: train one in **Train**, evaluate its adapter in **Evaluate**, "
                      "or open the demo project")
    teacher = recorded_teacher(root) or (DEFAULTS[0][1], DEFAULTS[0][2])
    slots = [("teacher (fine-tuned)", teacher[0], teacher[1] or ""),
             ("target before", job.student, ""),
             ("transferred student", job.student, str(job.adapter))]
    evals = catalog.evaluations(root)
    evaluation = next((e for e in evals if e.name == job.evaluation), None)
    same = [e for e in evals if evaluation is not None and e.questions == evaluation.questions and not e.control]
    teacher_eval = next((e for e in reversed(same) if e.model == teacher[0] and e.adapter), None)
    before_eval = next((e for e in reversed(same) if e.model == job.student and not e.adapter), None)
    said = (f"Compared: the teacher, {catalog.short(job.student)} before training, and job {job.id} "
            f"({job.accuracy:.1%} of held-out questions). Press **Send**.")
    return slots, example_question(evaluation, teacher_eval, before_eval), said


def styled_scores(table: pd.DataFrame) -> Any:
    """The perplexity table coloured along each row: green where a model finds the answer
    natural (low perplexity), red where it is foreign to it (high); log scale, as
    perplexities span orders of magnitude.  No matplotlib needed."""
    cols = [c for c in table.columns if c.startswith("ppl under")]

    def row_colours(row: pd.Series) -> list[str]:
        values = [math.log(v) if isinstance(v, (int, float)) and v == v and v > 0 else None for v in row[cols]]
        known = [v for v in values if v is not None]
        lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
        out = []
        for v in values:
            if v is None:
                out.append("")
                continue
            t = 0.0 if hi - lo < 1e-9 else (v - lo) / (hi - lo)  # 0: the lowest in the row, 1: the highest
            red, green = int(120 + 135 * t), int(230 - 110 * t)
            out.append(f"background-color: rgb({red}, {green}, 120); color: black")
        return out

    return table.style.apply(lambda row: ["", *row_colours(row)], axis=1).format("{:.2f}", subset=cols, na_rep="")


PPL_MEANING = ("**How to read it:** each row is one model's answer; each cell, how natural that answer is to a model "
               "(perplexity). **Lower, greener: that model would have said it too, it knows it**; higher, redder: it is "
               "foreign to it. A transferred student that learned the teacher's knowledge finds the teacher's answer "
               "greener than the target before does.")


def build(ctx: Context) -> Tab:
    """The tab's widgets; it reads the project for its adapter pickers, the preset and a
    vote that sends a prompt to the pool."""
    folder = project_box(ctx, "chat-project")
    with gr.Row():
        preset_btn = gr.Button("Preset: teacher / target before / transferred student", elem_id="chat-preset",
                               variant="secondary", scale=1)
        preset_said = gr.Markdown("Fills the three slots from the project's best evaluated job.", elem_id="chat-preset-said")
    fields, outputs, adapters, doc_picks = [], [], [], []
    with gr.Row():
        for n in range(SLOTS):
            label, model, adapter = DEFAULTS[n]
            with gr.Column():
                lab = gr.Textbox(label=f"Name {n + 1}", value=label, elem_id=f"chat-label-{n}")
                mod = gr.Textbox(label=f"Model {n + 1}", value=model, elem_id=f"chat-model-{n}",
                                 info="demo:NAME, a hub id or a local folder; empty: unused")
                ada = picker("Adapter", f"chat-adapter-{n}", typed=adapter, optional=True)
                doc_pick = gr.Dropdown([], value=None, label="Document from the project (optional)", elem_id=f"chat-doc-pick-{n}",
                                       info="fills the box below: the prompt-distillation teacher reads it first")
                doc = gr.Textbox(label="Document it reads first (optional)", lines=2, elem_id=f"chat-doc-{n}",
                                 info="the prompt-distillation teacher: the same model with the document in its prompt")
                doc_picks.append((doc_pick, doc))
                answer = gr.Textbox(label="Answer", lines=8, interactive=False, elem_id=f"chat-answer-{n}")
            fields += [lab, mod, *ada.inputs, doc]
            adapters.append(ada)
            outputs.append(answer)
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", scale=4, elem_id="chat-prompt", placeholder="Ask all models the same question")
        max_new = gr.Number(96, label="Max new tokens", precision=0, scale=1, elem_id="chat-max-new")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
    scores = gr.Dataframe(label="Each answer's perplexity under every model", interactive=False, elem_id="chat-scores")
    gr.Markdown(PPL_MEANING, elem_id="chat-scores-meaning")
    with gr.Row():
        up = gr.Button("Thumbs up: accept into the pool", elem_id="chat-up")
        down = gr.Button("Thumbs down: reject into the pool", elem_id="chat-down")
    voted = gr.Markdown(elem_id="chat-voted")
    per_slot = 5  # label, model, adapter choice, adapter typed, document

    def rows_of(values: tuple) -> list[tuple]:
        slots = [values[i : i + per_slot] for i in range(0, per_slot * SLOTS, per_slot)]
        return [(lab_, mod_, picked(choice, typed), doc_) for lab_, mod_, choice, typed, doc_ in slots]

    def on_send(*values):
        *slot_values, prompt_, max_new_ = values
        session = getattr(LocalContext.request.get(None), "session_hash", None) or ""
        stop = _IN_FLIGHT[session] = threading.Event()
        try:
            for texts, table in run(rows_of(tuple(slot_values)), prompt_, max_new_, should_stop=stop.is_set):
                yield [*texts, styled_scores(table) if table is not None else gr.skip()]
        except KDError as e:
            raise gr.Error(str(e)) from None
        finally:
            if _IN_FLIGHT.get(session) is stop:
                del _IN_FLIGHT[session]

    @guarded
    def on_vote(project_, prompt_, is_up):
        return vote(project_, prompt_, is_up)

    choices = [a.choice for a in adapters]
    defaults = [DEFAULTS[n][2] or None for n in range(SLOTS)]

    def on_project(project_: str | None, *current: str | None) -> list:
        """Each slot's adapter picker offers the project's adapters (the choice kept while
        offered), and its document picker the project's documents."""
        try:
            items = adapter_items(project_)
            docs = [(d.label, d.path) for d in catalog.documents(project_dir(project_))] if has_project(project_) else []
        except KDError:
            items, docs = adapter_items(None), []
        adapters_ = [picker_update(items, c, optional=True, default=d if c in (None, OTHER) else None)
                     for c, d in zip(current, defaults)]
        return [*adapters_, *[gr.Dropdown(choices=docs, value=None) for _ in doc_picks]]

    def on_document(project_: str | None, ref: str | None) -> Any:
        """The picked document's text into the slot's document box (read inside the open project)."""
        if not ref:
            return gr.skip()
        try:
            return catalog.document_text(project_dir(project_), ref)
        except KDError as e:
            raise gr.Error(str(e)) from None

    def on_preset(project_: str | None) -> list:
        """Fill the three slots (label, model, adapter picker) and a question; or say what to do first."""
        try:
            slots, question, said = preset(project_)
            items = adapter_items(project_)
        except KDError as e:
            return [str(e), *[gr.skip()] * (3 * SLOTS + 1)]
        out: list[Any] = [said]
        for label_, model_, adapter_ in slots:
            listed = items if not adapter_ or adapter_ in [v for _, v in items] else [*items, (adapter_, adapter_)]
            out += [label_, model_, picker_update(listed, adapter_ or NONE, optional=True)]
        return [*out, question or gr.skip()]

    # One comparison at a time in the whole app: models are shared, and a CPU runs one well.
    send.click(needs("chat", on_send), [*fields, prompt, max_new], [*outputs, scores], concurrency_id="models", concurrency_limit=1)
    prompt.submit(needs("chat", on_send), [*fields, prompt, max_new], [*outputs, scores], concurrency_id="models",
                  concurrency_limit=1)
    up.click(needs("curate", lambda p, q: on_vote(p, q, True)), [folder, prompt], voted)
    down.click(needs("curate", lambda p, q: on_vote(p, q, False)), [folder, prompt], voted)
    slot_outputs = [w for n in range(SLOTS) for w in (fields[per_slot * n], fields[per_slot * n + 1], choices[n])]
    preset_outputs = [preset_said, *slot_outputs, prompt]
    preset_btn.click(on_preset, [folder], preset_outputs)
    for doc_pick, doc in doc_picks:
        doc_pick.input(on_document, [folder, doc_pick], doc, show_progress="hidden")
    project_outputs = [*choices, *(pick for pick, _ in doc_picks)]
    ctx.app.load(on_project, [folder, *choices], project_outputs)
    ctx.app.unload(on_leave)
    return Tab(folder, reread(on_project, [folder, *choices], project_outputs),
               actions={"preset": (on_preset, [folder], preset_outputs)})
