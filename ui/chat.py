"""Chat tab: two or three models answer one prompt side by side, streamed together
(`kd_core.models.chat.compare`), each answer then scored by the others' perplexity; thumbs
up / down sends the prompt to the project's pool (`kd_core.models.chat.send_to_pool`).

The module-level functions are the tab without Gradio; `build` connects them to widgets.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Iterator

import gradio as gr
import pandas as pd
from gradio.context import LocalContext

from kd_core.demo.models import DEMO_ADAPTER_DIR, demo_spec
from kd_core.errors import KDError
from kd_core.models import chat
from kd_core.models.generation import GenerationConfig
from kd_core.models.loading import ModelSpec
from ui import access
from ui.access import may, needs
from ui.errors import guarded
from ui.tab import Context, Tab, model_name, project_dir

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
        adapter = model_name(adapter) or None
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


def build(ctx: Context) -> Tab:
    """The tab's widgets; it reads the project only when a vote sends a prompt to the pool."""
    folder = gr.Textbox(label="Project folder (thumbs up / down go into its pool)", value=ctx.folder,
                        elem_id="chat-project")
    fields, outputs = [], []
    with gr.Row():
        for n in range(SLOTS):
            label, model, adapter = DEFAULTS[n]
            with gr.Column():
                lab = gr.Textbox(label=f"Name {n + 1}", value=label, elem_id=f"chat-label-{n}")
                mod = gr.Textbox(label=f"Model {n + 1}", value=model, elem_id=f"chat-model-{n}",
                                 info="demo:NAME, a hub id or a local folder; empty: unused")
                ada = gr.Textbox(label="Adapter (optional)", value=adapter, elem_id=f"chat-adapter-{n}")
                doc = gr.Textbox(label="Document it reads first (optional)", lines=2, elem_id=f"chat-doc-{n}",
                                 info="the prompt-distillation teacher: the same model with the document in its prompt")
                answer = gr.Textbox(label="Answer", lines=8, interactive=False, elem_id=f"chat-answer-{n}")
            fields += [lab, mod, ada, doc]
            outputs.append(answer)
    with gr.Row():
        prompt = gr.Textbox(label="Prompt", scale=4, elem_id="chat-prompt", placeholder="Ask all models the same question")
        max_new = gr.Number(96, label="Max new tokens", precision=0, scale=1, elem_id="chat-max-new")
        send = gr.Button("Send", variant="primary", scale=1, elem_id="chat-send")
    scores = gr.Dataframe(label="Each answer's perplexity under every model", interactive=False, elem_id="chat-scores")
    with gr.Row():
        up = gr.Button("Thumbs up: accept into the pool", elem_id="chat-up")
        down = gr.Button("Thumbs down: reject into the pool", elem_id="chat-down")
    voted = gr.Markdown(elem_id="chat-voted")

    def rows_of(values: tuple) -> list[tuple]:
        return [tuple(values[i : i + 4]) for i in range(0, 4 * SLOTS, 4)]

    def on_send(*values):
        *slot_values, prompt_, max_new_ = values
        session = getattr(LocalContext.request.get(None), "session_hash", None) or ""
        stop = _IN_FLIGHT[session] = threading.Event()
        try:
            for texts, table in run(rows_of(tuple(slot_values)), prompt_, max_new_, should_stop=stop.is_set):
                yield [*texts, table if table is not None else gr.skip()]
        except KDError as e:
            raise gr.Error(str(e)) from None
        finally:
            if _IN_FLIGHT.get(session) is stop:
                del _IN_FLIGHT[session]

    @guarded
    def on_vote(project_, prompt_, is_up):
        return vote(project_, prompt_, is_up)

    # One comparison at a time in the whole app: models are shared, and a CPU runs one well.
    send.click(needs("chat", on_send), [*fields, prompt, max_new], [*outputs, scores], concurrency_id="models", concurrency_limit=1)
    prompt.submit(needs("chat", on_send), [*fields, prompt, max_new], [*outputs, scores], concurrency_id="models",
                  concurrency_limit=1)
    up.click(needs("curate", lambda p, q: on_vote(p, q, True)), [folder, prompt], voted)
    down.click(needs("curate", lambda p, q: on_vote(p, q, False)), [folder, prompt], voted)
    ctx.app.unload(on_leave)
    return Tab(folder)
