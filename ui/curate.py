"""Curate tab: accept, reject, edit and undo over a project's prompt pool, and export.

The pool file is the only source of truth: every action opens the pool, calls the same
`kd_core.tuneshift.pool.Pool` / `kd_core.tuneshift.pool_export.export_dataset` methods the CLI calls, and
re-reads what it shows, so a page reload, a second browser, a CLI command or a server
restart all see the same state.  A session keeps only which project is open, the filter
that was applied and the selected prompt id (gr.State).

The module-level functions below are the tab's wiring without Gradio, so tests can drive
them against a real pool; `build` only connects them to widgets.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr
import pandas as pd

from kd_core.errors import KDError
from kd_core.project import Project, catalog
from kd_core.tuneshift.pool import STATES, Pool, PoolCounts, PoolFilter
from kd_core.tuneshift.pool_export import export_dataset
from ui.access import needs
from ui.errors import guarded
from ui.tab import Context, Tab, project_box, project_dir, reread

ALL = "all"
TABLE_COLUMNS = ["id", "round", "source", "state", "gap", "prompt", "response"]
MAX_ROWS = 500  # the browser table stays responsive; filters reach the rest
PROMPT_CHARS = 300
RESPONSE_CHARS = 160
DEFAULT_WHO = "ui"
NO_PROJECT = "No project open: pick one in the project bar at the top (the demo project holds a curated pool)."
NO_POOL = "No pool yet: expand seeds in **Expand** (or add documents in **Documents**), or open the demo project."

# Shortcuts act only while the Curate tab is visible and focus is outside a text field,
# so typing a prompt edit never triggers a decision.
SHORTCUTS_JS = """
() => {
  const keys = {a: "curate-accept", r: "curate-reject", u: "curate-undo"};
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const id = keys[e.key];
    if (!id) return;
    const el = document.getElementById(id);
    const button = el && (el.tagName === "BUTTON" ? el : el.querySelector("button"));
    if (button && button.offsetParent !== null) { e.preventDefault(); button.click(); }
  });
}
"""


# ---------------------------------------------------------------------------
# Pure helpers


def parse_filter(state: str | None, rounds: str | None, source: str | None, search: str | None, min_gap: str | float | None) -> PoolFilter:
    """The PoolFilter for the filter widgets' values ("all" and empty fields match all);
    a bad value raises KDError naming the field and the value."""
    if state in (None, "", ALL):
        states = None
    elif state in STATES:
        states = state
    else:
        raise KDError(f"state filter: unknown state {state!r} (use {ALL}, {', '.join(STATES)})")
    round_list = None
    if rounds is not None and str(rounds).strip():
        round_list = []
        for part in str(rounds).replace(";", ",").split(","):
            part = part.strip()
            if not part:
                continue
            try:
                r = int(part)
            except ValueError:
                raise KDError(f"round filter: {part!r} is not a round number (use e.g. 0 or 1, 2)") from None
            if r < 0:
                raise KDError(f"round filter: round {r} is negative (rounds start at 0)")
            round_list.append(r)
        round_list = round_list or None
    gap = None
    if min_gap is not None and str(min_gap).strip():
        try:
            gap = float(min_gap)
        except (TypeError, ValueError):
            raise KDError(f"minimum gap: {str(min_gap).strip()!r} is not a number") from None
        if not math.isfinite(gap):
            raise KDError(f"minimum gap: {min_gap!r} is not a finite number")
    return PoolFilter(
        states=states,
        rounds=round_list,
        sources=None if source in (None, "", ALL) else source,
        search=(search or "").strip() or None,
        min_gap=gap,
    )


def counts_markdown(counts: PoolCounts) -> str:
    """The always-visible counts line; the same numbers `kd-studio pool show` prints."""
    s, label = counts.by_state, counts.by_label
    return (
        f"**{counts.total} prompts** · pending {s['pending']} · accepted {s['accepted']} · "
        f"rejected {s['rejected']} · edited {s['edited']} · gap above {label['above']} · "
        f"below {label['below']} · not scored {label['none']}"
    )


def _clip(text: Any, n: int) -> str:
    if not isinstance(text, str):
        return ""
    return text if len(text) <= n else text[: n - 1] + "…"


def table_frame(df: pd.DataFrame) -> pd.DataFrame:
    """`Pool.query` rows as the table shows them: long texts clipped, gaps rounded."""
    if df.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    return pd.DataFrame({
        "id": df["id"].astype(int),
        "round": df["round"].astype(int),
        "source": df["source"],
        "state": df["state"],
        # Unscored prompts show an empty cell, not NaN.
        "gap": [None if g != g else round(float(g), 3) for g in df["gap"]],
        "prompt": [_clip(t, PROMPT_CHARS) for t in df["text"]],
        "response": [_clip(t, RESPONSE_CHARS) for t in df["response"]],
    })[TABLE_COLUMNS]


def who_from(request: gr.Request | None) -> str:
    """The decision log's `who`: the logged-in user when auth is on, else "ui"."""
    name = getattr(request, "username", None) if request is not None else None
    return name.strip() if isinstance(name, str) and name.strip() else DEFAULT_WHO


def open_pool(project: str | None) -> Pool:
    """The project's existing pool; viewing never creates one (`kd-studio expand` does)."""
    if not project or not str(project).strip():
        raise KDError("no project open: pick one in the project bar at the top")
    return Pool(project_dir(project), create=False)  # confined to the projects the account may open


# ---------------------------------------------------------------------------
# What the tab shows, re-read from the pool


def read_view(project: str | None, filt: PoolFilter | None) -> dict[str, Any]:
    """Counts, the filtered table (gap descending) and the pool's sources."""
    with open_pool(project) as pool:
        counts = pool.counts()
        matching = pool.count(filt)
        df = pool.query(filt, order="-gap", limit=MAX_ROWS)
    shown = f"{matching} prompt{'s' * (matching != 1)} match the filter"
    if matching > len(df):
        shown += f" (showing the {len(df)} with the highest gap)"
    return {
        "counts": counts_markdown(counts),
        "matching": shown,
        "table": table_frame(df),
        "sources": [ALL, *counts.by_source],
    }


def read_selected(project: str | None, selected: int | None) -> dict[str, Any]:
    """The selected prompt in full: its text to edit, its response, where it came from."""
    if selected is None or not project:
        return {"prompt": "", "response": "", "info": "Select a row to see the whole prompt and response."}
    with open_pool(project) as pool:
        try:
            row = pool.get(int(selected))
        except KDError:
            # Another project was opened or the row is gone: show nothing rather than fail.
            return {"prompt": "", "response": "", "info": f"Prompt {selected} is not in this pool."}
    gap = "not scored" if row.gap is None else f"{row.gap:.3f} ({row.gap_metric or 'gap'}, {row.auto_label or 'unlabelled'})"
    info = f"**Prompt {row.id}** · {row.state} · round {row.round} · {row.source} · gap {gap}"
    if row.edited:
        info += f"\n\nOriginal text: {row.original_text}"
    if row.response is None:
        info += "\n\nNo response yet: the next expansion round answers and scores it."
    return {"prompt": row.text, "response": row.response or "", "info": info}


def decide(project: str | None, selected: int | None, action: str, who: str, text: str | None = None) -> str:
    """One decision on the selected prompt through the Pool API; returns what happened."""
    if selected is None:
        raise KDError("select a row first")
    with open_pool(project) as pool:
        if action == "accept":
            changed = pool.accept(int(selected), who)
        elif action == "reject":
            changed = pool.reject(int(selected), who)
        elif action == "edit":
            changed = pool.edit(int(selected), text or "", who)
        else:
            raise ValueError(action)
    if changed:
        return f"prompt {selected} {action}ed"
    return f"prompt {selected} unchanged (" + ("same text" if action == "edit" else f"already {action}ed") + ")"


def bulk(project: str | None, filt: PoolFilter | None, state: str, who: str) -> str:
    with open_pool(project) as pool:
        n = pool.bulk_set_state(filt, state, who)
    return f"{state} {n} prompt{'s' * (n != 1)} matching the filter"


def undo(project: str | None, who: str) -> str:
    with open_pool(project) as pool:
        result = pool.undo(who)
    return "nothing to undo" if result is None else result.summary()


def export(project: str | None) -> str:
    """Accepted and edited prompts with responses into <project>/export/, as `kd-studio pool export`."""
    with open_pool(project) as pool:
        result = export_dataset(pool, Project.at(project_dir(project)).exports_dir)
    return "\n".join([f"**{result.summary()}**", "", *(f"- `{name}`: {path}" for name, path in result.files.items())])


def exported(project: str | None) -> str:
    """What the project's export folder holds already (the Train tab's default data)."""
    found = [item for item in catalog.datasets(project_dir(project)) if item.label.startswith("curated export")]
    if not found:
        return "Nothing exported yet: accept prompts, then **Export**."
    return "Exported already: " + "; ".join(f"{item.label} (`{item.path}`)" for item in found)


# ---------------------------------------------------------------------------
# Widgets


def build(ctx: Context) -> Tab:
    """The tab's widgets; the project bar re-opens the pool (as a page load does)."""
    app = ctx.app
    project_state = gr.State(None)  # the folder that is open; the textbox may hold an unopened one
    filter_state = gr.State(PoolFilter())  # the filter the table shows, which bulk decisions use
    selected_state = gr.State(None)  # id of the selected prompt

    folder = project_box(ctx, "curate-project")
    counts = gr.Markdown(NO_PROJECT, elem_id="curate-counts")
    with gr.Row():
        f_state = gr.Dropdown([ALL, *STATES], value=ALL, label="State", elem_id="curate-filter-state")
        f_rounds = gr.Textbox(label="Round(s)", placeholder="all, or e.g. 0 or 1, 2", elem_id="curate-filter-rounds")
        f_source = gr.Dropdown([ALL], value=ALL, label="Source", elem_id="curate-filter-source")
        f_search = gr.Textbox(label="Text contains", elem_id="curate-filter-search")
        f_gap = gr.Textbox(label="Minimum gap", placeholder="none", elem_id="curate-filter-gap")
        apply_btn = gr.Button("Apply filter", elem_id="curate-apply")
    with gr.Row():
        matching = gr.Markdown(elem_id="curate-matching")
        bulk_accept_btn = gr.Button("Accept all matching filter", elem_id="curate-bulk-accept")
        bulk_reject_btn = gr.Button("Reject all matching filter", elem_id="curate-bulk-reject")
    table = gr.Dataframe(headers=TABLE_COLUMNS, interactive=False, wrap=True, max_height=420, elem_id="curate-table",
                         column_widths=["60px", "70px", "110px", "90px", "70px", "45%", "30%"])
    info = gr.Markdown("Select a row to see the whole prompt and response.", elem_id="curate-selected")
    with gr.Row():
        prompt = gr.Textbox(label="Prompt (edit, then Save edit)", lines=4, interactive=True, elem_id="curate-prompt")
        response = gr.Textbox(label="Fine-tuned model's response", lines=4, interactive=False, elem_id="curate-response")
    with gr.Row():
        accept_btn = gr.Button("Accept (a)", variant="primary", elem_id="curate-accept")
        reject_btn = gr.Button("Reject (r)", variant="stop", elem_id="curate-reject")
        edit_btn = gr.Button("Save edit", elem_id="curate-save-edit")
        undo_btn = gr.Button("Undo (u)", elem_id="curate-undo")
    with gr.Row():
        export_btn = gr.Button("Export accepted to <project>/export/", elem_id="curate-export")
    export_md = gr.Markdown(elem_id="curate-export-summary")
    opened_outputs_extra = [export_md]

    view_outputs = [counts, matching, table, f_source]
    selected_outputs = [prompt, response, info]

    def shown(project_: str | None, filt: PoolFilter | None, selected: int | None) -> list:
        v, s = read_view(project_, filt), read_selected(project_, selected)
        return [v["counts"], v["matching"], v["table"], gr.Dropdown(choices=v["sources"]),
                s["prompt"], s["response"], s["info"]]

    @guarded
    def on_open(folder_: str, st, rd, src, q, gap):
        filt = parse_filter(st, rd, src, q, gap)
        project_ = folder_.strip()
        return [project_, filt, None, *shown(project_, filt, None), exported(project_)]

    def on_load(folder_: str, st, rd, src, q, gap):
        # A project the server was started on, or the project bar opened, may hold no pool yet: say so, without an error.
        try:
            root = Project.at(project_dir(folder_)) if folder_.strip() else None
        except KDError as e:  # a project this account may not open: said in the page
            return [None, PoolFilter(), None, str(e), *[gr.skip()] * 7]
        if root is not None and root.pool.is_file():
            return on_open(folder_, st, rd, src, q, gap)
        s = read_selected(None, None)
        said = NO_POOL if root is not None else NO_PROJECT
        return [None, PoolFilter(), None, said, "", pd.DataFrame(columns=TABLE_COLUMNS),
                gr.Dropdown(choices=[ALL]), s["prompt"], s["response"], s["info"], ""]

    @guarded
    def on_filter(project_, selected, st, rd, src, q, gap):
        filt = parse_filter(st, rd, src, q, gap)
        return [filt, *shown(project_, filt, selected)]

    def on_select(project_, evt: gr.SelectData):
        row = evt.row_value
        # The id column, not the row index: right even when the table was sorted in the browser.
        selected = int(row[0]) if row else None
        s = guarded(read_selected)(project_, selected)
        return [selected, s["prompt"], s["response"], s["info"]]

    def acted(action):
        @guarded
        def run(project_, filt, selected, text, request: gr.Request):
            message = decide(project_, selected, action, who_from(request), text)
            gr.Info(message)
            return shown(project_, filt, selected)
        return run

    def bulked(state):
        @guarded
        def run(project_, filt, selected, request: gr.Request):
            gr.Info(bulk(project_, filt, state, who_from(request)))
            return shown(project_, filt, selected)
        return run

    @guarded
    def on_undo(project_, filt, selected, request: gr.Request):
        gr.Info(undo(project_, who_from(request)))
        return shown(project_, filt, selected)

    @guarded
    def on_export(project_):
        return export(project_)

    filters = [f_state, f_rounds, f_source, f_search, f_gap]
    opened = [project_state, filter_state, selected_state, *view_outputs, *selected_outputs, *opened_outputs_extra]
    # .input, not .change: refreshing the source choices must not re-trigger a refresh.
    for trigger in (apply_btn.click, f_state.input, f_source.input, f_rounds.submit, f_search.submit, f_gap.submit):
        trigger(on_filter, [project_state, selected_state, *filters], [filter_state, *view_outputs, *selected_outputs])
    table.select(on_select, [project_state], [selected_state, *selected_outputs])
    decision_inputs = [project_state, filter_state, selected_state, prompt]
    accept_btn.click(needs("curate", acted("accept")), decision_inputs, [*view_outputs, *selected_outputs])
    reject_btn.click(needs("curate", acted("reject")), decision_inputs, [*view_outputs, *selected_outputs])
    edit_btn.click(needs("curate", acted("edit")), decision_inputs, [*view_outputs, *selected_outputs])
    state_inputs = [project_state, filter_state, selected_state]
    bulk_accept_btn.click(needs("curate", bulked("accepted")), state_inputs, [*view_outputs, *selected_outputs])
    bulk_reject_btn.click(needs("curate", bulked("rejected")), state_inputs, [*view_outputs, *selected_outputs])
    undo_btn.click(needs("curate", on_undo), state_inputs, [*view_outputs, *selected_outputs])
    export_btn.click(needs("settings", on_export), [project_state], export_md)
    app.load(on_load, [folder, *filters], opened)
    app.load(None, None, None, js=SHORTCUTS_JS)
    return Tab(folder, reread(on_load, [folder, *filters], opened))
