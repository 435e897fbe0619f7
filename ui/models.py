"""Models tab: the demo's models, and a pre-flight check of any models before loading
them (kd_core.models.preflight: what would load, memory needed against memory free, whether
the tokenizers and chat templates fit together) — the same as `kd-studio models preflight`.
Load puts the three into the server's shared model cache (kd_core.models.chat.MODELS, which the
Chat tab draws from); Unload empties it."""

from __future__ import annotations

import threading
import time
from typing import Any, Iterator

import gradio as gr

from kd_core.demo.models import DEMO_MODELS, demo_spec
from kd_core.errors import KDError
from kd_core.models.chat import MODELS
from kd_core.models.loading import ModelSpec
from kd_core.models.preflight import preflight, report_markdown
from kd_core.runtime.progress import ProgressRecord
from ui.access import needs
from ui.errors import guarded
from ui.progress import progress_html
from ui.tab import Context, Tab, model_name


def specs_from(base: str, finetuned: str, adapter: str, target: str, device: str, dtype: str, four_bit: bool) -> dict[str, ModelSpec]:
    """The three roles; an empty field is the demo's model for that role, and an adapter
    without a fine-tuned model goes on the base."""
    # Confined to the server's models folders and the caller's projects when served (ui.tab.model_name).
    base, finetuned, adapter, target = (model_name(v) for v in (base, finetuned, adapter, target))
    # Typed on a page: remote code and pickle only as the server's own flags grant them.
    page = lambda **f: ModelSpec.from_file_dict(f, where="the Models tab")  # noqa: E731
    base_spec = page(name=base) if base else demo_spec("base")
    if finetuned or adapter:
        ft_spec = page(name=finetuned or base_spec.name, adapter=adapter or None)
    else:
        ft_spec = demo_spec("finetuned")
    out = {"base": base_spec, "finetuned": ft_spec, "target": page(name=target) if target else demo_spec("target")}
    for spec in out.values():
        spec.device, spec.dtype, spec.load_in_4bit = device, dtype, bool(four_bit)
    return out


def command(base: str, finetuned: str, adapter: str, target: str, device: str, dtype: str, four_bit: bool) -> str:
    flags = [f"--{k} {v.strip()}" for k, v in (("base", base), ("finetuned", finetuned), ("adapter", adapter), ("target", target))
             if v and v.strip()]
    flags += [f"--device {device}", f"--dtype {dtype}"] + (["--4bit"] if four_bit else [])
    return "kd-studio models preflight " + " ".join(flags)


def load_all(specs: dict[str, ModelSpec], every_s: float = 1.0) -> Iterator[ProgressRecord]:
    """Load the models into the server's cache one after another (kd_core.models.chat.MODELS),
    yielding a progress record at least every `every_s` seconds while one loads: model n of
    N and its name, the time since Load was pressed, and an ETA at the pace of the models
    loaded so far. A load's KDError is raised here."""
    items = list(specs.items())
    t0 = time.time()
    for n, (role, spec) in enumerate(items):
        failed: list[BaseException] = []

        def load(spec: ModelSpec = spec) -> None:
            try:
                MODELS.get(spec)  # one loader at a time; a model already loaded is not loaded again
            except BaseException as e:  # noqa: BLE001  (raised again in the handler's thread)
                failed.append(e)

        worker = threading.Thread(target=load, name=f"load-{role}", daemon=True)
        worker.start()
        while True:
            yield ProgressRecord(f"loading model {n + 1} of {len(items)}: {role} {spec.label()}", n, len(items),
                                 started=t0, updated=time.time())
            worker.join(every_s)
            if not worker.is_alive():
                break
        if failed:
            raise failed[0]
    yield ProgressRecord(f"loaded {len(items)} models", len(items), len(items), started=t0, updated=time.time())


def build(ctx: Context) -> Tab:
    """The tab's widgets; models are the server's, not a project's, so it has no project box."""
    rows = [[role, demo_spec(role).label()] for role in ("base", "finetuned", "target")]
    gr.Dataframe(value=rows, headers=["role", "model"], label="Embedded demo models", interactive=False)
    gr.Markdown("\n".join(f"- `demo:{n}`: {d.description}" for n, d in DEMO_MODELS.items()))
    gr.Markdown("### Pre-flight\nAny model: `demo:NAME`, a hub id, a local folder or a `.gguf` file; empty: the demo's. "
                "Nothing is loaded: configs and tokenizers only.")
    with gr.Row():
        base = gr.Textbox(label="Base", elem_id="models-base")
        finetuned = gr.Textbox(label="Fine-tuned (merged)", elem_id="models-finetuned")
        adapter = gr.Textbox(label="...or the fine-tuned adapter folder", elem_id="models-adapter")
        target = gr.Textbox(label="Target", elem_id="models-target")
    with gr.Row():
        device = gr.Dropdown(["auto", "cpu", "cuda"], value="auto", label="Device", elem_id="models-device")
        dtype = gr.Dropdown(["auto", "float32", "bfloat16", "float16"], value="auto", label="Dtype", elem_id="models-dtype")
        four_bit = gr.Checkbox(False, label="4-bit (nf4)", elem_id="models-4bit")
        check_btn = gr.Button("Check", variant="primary", elem_id="models-check")
        load_btn = gr.Button("Load", elem_id="models-load")
        unload_btn = gr.Button("Unload all", elem_id="models-unload")
    shell = gr.Code(language="shell", label="The same from a shell", interactive=False, lines=1, elem_id="models-command")
    loaded = gr.Markdown(elem_id="models-loaded")
    report = gr.Markdown(elem_id="models-report")
    inputs = [base, finetuned, adapter, target, device, dtype, four_bit]

    @guarded
    def on_check(*values):
        try:
            return report_markdown(preflight(specs_from(*values))), command(*values)
        except OSError as e:
            raise KDError(str(e)) from None

    def loaded_text() -> str:
        names = MODELS.loaded()
        return ("Loaded in this server (shared by every session, the Chat tab included): "
                + ", ".join(f"`{n}`" for n in names)) if names else "No model loaded in this server."

    def on_load(*values: Any) -> Iterator[str]:
        # A generator (Gradio streams its values): the bar while the models load, then the list.
        try:
            for record in load_all(specs_from(*values)):
                yield progress_html(record)
        except KDError as e:
            raise gr.Error(str(e)) from None
        yield loaded_text()

    def on_unload():
        MODELS.clear()
        return loaded_text()

    check_btn.click(needs("models", on_check), inputs, [report, shell])
    load_btn.click(needs("models", on_load), inputs, loaded, show_progress="hidden")  # the bar is its progress
    unload_btn.click(needs("models", on_unload), None, loaded)
    ctx.app.load(loaded_text, None, loaded)
    for widget in inputs:
        widget.change(command, inputs, shell, show_progress="hidden")
    return Tab()
