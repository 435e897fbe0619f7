"""The attack suite: a real `kd-studio serve` shared by an admin and two curators, attacked
over HTTP (the Gradio API, as a script would) and in Chromium (as a page would), by a
signed-in curator and by an admin.  Every attempt is recorded in `ATTEMPTS` with whether it
was blocked, whether any file under the projects root or outside it changed, whether a
traceback reached the client, and whether the server still answered afterwards; the last
test prints the table (tests/README and the README's Security section quote it) and holds
it to the goal: every attempt blocked, nothing changed, no traceback, still serving.

The attempts' categories: path escapes (absolute, .., symlinks, ~, the upload folder, each
path box and each endpoint that takes a path), role escapes (a curator calling every admin
event of the app through the API), remote code from a project's files, the Parquet bomb,
sign-in brute force, oversized and foreign-Host requests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from kd_core.access.accounts import add_user
from tests.test_curate_ui import PROMPTS, make_project
from tests.waiting import wait_until
from ui.tab import OTHER

pytestmark = pytest.mark.browser  # a real server (and Chromium for the page attempts)

ADMIN, CURATOR, CURATOR2 = ("alice", "correct-horse"), ("bob", "battery-staple"), ("carol", "tr0ub4dor&3")
ATTEMPTS: list[dict] = []  # one row per attempt, in order
MARKER = "REMOTE-CODE-RAN"


# --- the world the attacker meets ------------------------------------------------------


def _tree(*folders: Path) -> dict[str, str]:
    """Every file under `folders` (symlinks not followed) -> a hash of its bytes."""
    out = {}
    for folder in folders:
        for dirpath, _, files in os.walk(folder):
            for name in files:
                p = Path(dirpath) / name
                if p.is_symlink() or not p.is_file() or name.endswith(("-wal", "-shm")) or name.startswith("server-"):
                    continue
                out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _evil_model(folder: Path, marker: Path) -> None:
    """A model folder whose config asks for its own code: importing it would write `marker`.
    Its tokenizer is a real one (a tiny model's), so loading gets as far as the model's config."""
    from tests import tiny_models

    tiny_models.build_llama(folder)
    for f in folder.glob("*.safetensors"):
        f.unlink()
    (folder / "config.json").write_text(json.dumps({
        "model_type": "evil", "architectures": ["EvilModel"],
        "auto_map": {"AutoConfig": "modeling.EvilConfig", "AutoModelForCausalLM": "modeling.EvilModel"}}))
    (folder / "modeling.py").write_text(f"open({str(marker)!r}, 'w').write('{MARKER}')\n")


def _parquet_bomb(path: Path, rows: int = 20_000_000) -> None:
    """~20M rows of one 200-character prompt: a few hundred KB on disk, ~4 GB of text decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    text = pa.array(["Tell me about the salt roads of Varenholt and every harbour on them, " * 3])
    schema = pa.schema([("prompt", pa.dictionary(pa.int32(), pa.string()))])
    with pq.ParquetWriter(path, schema, compression="zstd") as w:
        chunk = 1_000_000
        for _ in range(rows // chunk):
            w.write_table(pa.table({"prompt": pa.DictionaryArray.from_arrays(pa.array([0] * chunk, pa.int32()), text)}))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks")
    root, outside = base / "projects", base / "outside"
    make_project(root / "demo")
    make_project(root / "secret")  # bob's account does not name it
    make_project(outside / "theirs")
    (outside / "secret.txt").write_text("the outside's secret\n")
    (outside / "data.jsonl").write_text('{"prompt": "a", "response": "b"}\n')
    (outside / "q.jsonl").write_text('{"question": "a", "answer": "b"}\n')
    (outside / "model").mkdir()
    (outside / "model" / "config.json").write_text('{"model_type": "llama"}')
    (root / "demo" / "link-out").symlink_to(outside)
    # The crafted project: its pool's meta names a model folder whose config asks for its
    # own code, with trust_remote_code switched on in the recorded spec.
    make_project(root / "crafted")
    _evil_model(outside / "evil-model", base / "marker.txt")
    from kd_core.tuneshift.pool import Pool

    with Pool(root / "crafted") as pool:
        spec = {"name": str(outside / "evil-model"), "trust_remote_code": True, "allow_pickle": True}
        pool.set_meta("expansion.model_specs", {"base": spec, "finetuned": spec})
    _parquet_bomb(base / "bomb.parquet")
    accounts = base / "accounts.txt"
    add_user(accounts, *ADMIN, "admin")
    add_user(accounts, *CURATOR, "curator", ("demo", "crafted", "team"))
    add_user(accounts, *CURATOR2, "curator", ("demo", "team"))
    return {"base": base, "root": root, "outside": outside, "accounts": accounts, "marker": base / "marker.txt"}


@pytest.fixture(scope="module")
def server(world):
    from scripts.browser import start_server, stop_server

    env = dict(os.environ, KD_STUDIO_LOCK_DIR=str(world["base"] / "locks"), OMP_NUM_THREADS="1")
    proc, url = start_server("--projects-root", str(world["root"]), "--auth-file", str(world["accounts"]),
                             "--max-body-kb", "512", cwd=world["base"], env=env)
    try:
        yield {"url": url, "proc": proc}
    finally:
        stop_server(proc)


@pytest.fixture(scope="module")
def events(world):
    """(event id, function, action) of every event, from the same code the server runs."""
    from ui.app import build_app

    app = build_app(None)  # no gate: building it leaves this process as it was
    inputs = {fn_id: [c for c in fn.inputs] for fn_id, fn in app.fns.items()}
    return [(fn_id, name, action, inputs[fn_id]) for fn_id, name, action in app.kd_events]


def _client(url: str, who: tuple[str, str]):
    from gradio_client import Client

    return Client(url, auth=who, verbose=False, download_files=False)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _serving(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status == 200
    except urllib.error.HTTPError as e:
        return e.code in (200, 401)
    except OSError:
        return False


def attempt(world, server, category: str, who: str, name: str, run) -> dict:
    """Run one attack; `run()` returns (blocked, what the client saw)."""
    before = _tree(world["root"], world["outside"])
    try:
        blocked, seen = run()
    except Exception as e:  # an error the client got back: blocked, if it is not a traceback
        blocked, seen = True, f"{type(e).__name__}: {e}"
    changed = _tree(world["root"], world["outside"]) != before or world["marker"].exists()
    row = {"category": category, "who": who, "attempt": name, "blocked": bool(blocked), "changed": changed,
           "traceback": "Traceback" in str(seen), "serving": _serving(server["url"]), "seen": str(seen)[:140]}
    ATTEMPTS.append(row)
    return row


def ev(tab: str, fn: str) -> str:
    """The qualified name of a function a tab's build defines (ui.TAB.build.<locals>.FN)."""
    return f"ui.{tab}.build.<locals>.{fn}"


def _call(client, events, qualname: str, values: dict[int, object] | None = None, nth: int = 0):
    """Call the event whose function is `qualname` (its nth), through the HTTP API, with
    each input's initial value except `values` (by position among the non-State inputs)."""
    import gradio as gr

    found = [(i, ins) for i, name, _, ins in events if name.endswith(qualname)]
    fn_id, inputs = found[nth]
    args = [getattr(c, "value", None) for c in inputs if not isinstance(c, gr.State)]
    for k, v in (values or {}).items():
        args[k] = v
    return client.predict(*args, fn_index=fn_id)


def _refused(call) -> tuple[bool, str]:
    """An API call that must fail with a plain message (gradio_client raises AppError)."""
    try:
        out = call()
    except Exception as e:
        text = str(e)
        return ("Traceback" not in text), text
    return False, f"answered: {str(out)[:200]}"


def _refused_in_output(call, words: tuple[str, ...]) -> tuple[bool, str]:
    """A view event answers (it shows a message in the page instead of raising)."""
    try:
        out = call()
    except Exception as e:
        return ("Traceback" not in str(e)), str(e)
    text = json.dumps(out, default=str)
    return any(w in text for w in words), text[:300]


CONFINED = ("not a project of this server", "not a file of a project you may open", "not a model this server offers")


# --- path escapes -------------------------------------------------------------------------


def test_path_escapes_through_every_path_box_are_refused(world, server, events):
    admin, bob = _client(server["url"], ADMIN), _client(server["url"], CURATOR)
    out, root = world["outside"], world["root"]
    bar = "ui.app.build_app.<locals>.on_open"
    cases = [  # (as, attempt, client, event, the inputs it sends)
        ("admin", "project bar: absolute path", admin, bar,
         {0: "/etc"}),
        ("admin", "project bar: .. out of the root", admin, bar,
         {0: "../outside/theirs"}),
        ("admin", "project bar: symlink inside a project to outside", admin, bar,
         {0: "demo/link-out/theirs"}),
        ("admin", "project bar: ~", admin, bar,
         {0: "~"}),
        ("admin", "project bar: create a folder outside", admin, bar,
         {0: str(out / "new-here")}),
        ("admin", "project bar: the upload folder", admin, bar,
         {0: "/tmp/gradio"}),
        ("curator", "project bar: a project the account does not name", bob, bar,
         {0: "secret"}),
        ("curator", "project bar: create a project", bob, bar,
         {0: "mine"}),
        ("admin", "Train: training data outside", admin, ev("train", "on_launch"),
         {0: "demo", 3: str(out / "data.jsonl")}),
        ("admin", "Train: student model folder outside", admin, ev("train", "on_launch"),
         {0: "demo", 1: str(out / "model")}),
        ("admin", "Evaluate: question file outside", admin, ev("evaluate", "on_run"),
         {0: "demo", 4: OTHER, 5: str(out / "q.jsonl")}),
        ("admin", "Evaluate: adapter via ..", admin, ev("evaluate", "on_run"),
         {0: "demo", 2: OTHER, 3: "../../outside/model"}),
        ("admin", "Evaluate: adapter forged as a picker's choice", admin, ev("evaluate", "on_run"),
         {0: "demo", 2: str(out / "model")}),
        ("admin", "Evaluate: results CSV of a folder outside", admin, "ui.evaluate.download",
         {0: str(out / "theirs")}),
        ("admin", "Models: check a folder outside", admin, ev("models", "on_check"),
         {0: str(out / "model")}),
        ("admin", "Chat: a model folder outside", admin, ev("chat", "on_send"),
         {1: str(out / "model"), 2: "none", 6: "", 11: "", 15: "hi"}),  # 5 inputs a slot, then the prompt
        ("admin", "Expand: run in a folder outside", admin, ev("expand", "on_run"),
         {0: str(out / "theirs")}),
        ("admin", "Expand: base model in the upload folder", admin, ev("expand", "on_run"),
         {0: "demo", 6: "/tmp/gradio/x"}),
        ("admin", "Expand: a kept seed file outside, typed under other", admin, ev("expand", "on_run"),
         {0: "demo", 2: OTHER, 3: str(out / "secret.txt")}),
        ("admin", "Documents: a document outside, typed under other", admin, ev("documents", "on_add"),
         {0: "demo", 2: OTHER, 3: str(out / "secret.txt")}),
        ("admin", "Documents: PD model outside", admin, ev("documents", "starter.<locals>.run"),
         {0: "demo", 1: str(out / "model")}),
    ]
    for who, name, client, event, values in cases:
        row = attempt(world, server, "path escape", who, name, lambda: _refused(lambda: _call(client, events, event, values)))
        assert row["blocked"] and not row["changed"], row
    # View events answer with a message in the page rather than an error.
    views = [
        ("admin", "Explore: a scored table outside", lambda: _call(admin, events, ev("explore", "on_load"),
                                                                    {0: "demo", 1: OTHER, 2: str(out / "theirs")})),
        ("curator", "Explore: a Parquet file in another project", lambda: _call(bob, events, ev("explore", "on_open"), {0: str(root / "secret")})),
        ("curator", "Curate: open a pool outside", lambda: _call(bob, events, ev("curate", "on_load"), {0: str(out / "theirs")})),
        ("curator", "Curate: open the secret project's pool", lambda: _call(bob, events, ev("curate", "on_load"), {0: "secret"})),
        ("curator", "Evaluate: read a folder outside", lambda: _call(bob, events, ev("evaluate", "on_project"), {0: "/etc"})),
        ("curator", "Expand: read a process log outside", lambda: _call(bob, events, ev("expand", "on_project"), {0: str(out)})),
        ("curator", "Chat: the preset from the secret project", lambda: _call(bob, events, ev("chat", "on_preset"), {0: "secret"})),
        ("curator", "Chat: a document of the secret project", lambda: _call(
            bob, events, ev("chat", "on_document"), {0: "secret", 1: str(root / "secret" / "documents" / "documents.jsonl") + "#1"})),
    ]
    for who, name, call in views:
        row = attempt(world, server, "path escape", who, name, lambda: _refused_in_output(call, CONFINED))
        assert row["blocked"] and not row["changed"], row


def _get(url: str, path: str, cookie: str | None = None, headers: dict | None = None, data: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url.rstrip("/") + path, data=data, headers=headers or {})
    if cookie:
        req.add_header("Cookie", cookie)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(2000).decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read(2000).decode("utf-8", "replace")


def _cookie(url: str, who: tuple[str, str]) -> str:
    req = urllib.request.Request(url.rstrip("/") + "/login", data=urllib.parse.urlencode({"username": who[0], "password": who[1]}).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return "; ".join(c.split(";")[0] for c in r.headers.get_all("Set-Cookie"))


def test_the_file_route_serves_nothing_outside_and_no_other_project(world, server):
    url, root, out = server["url"], world["root"], world["outside"]
    bob = _cookie(url, CURATOR)
    cases = [
        ("/etc/passwd", "file route: /etc/passwd"),
        (str(out / "secret.txt"), "file route: a file outside the root"),
        (f"{root}/../outside/secret.txt", "file route: .. out of the root"),
        (str(root / "demo" / "link-out" / "secret.txt"), "file route: a symlink out of a project"),
        (str(root / "secret" / "pool.sqlite"), "file route: another project's pool"),
    ]
    for path, name in cases:
        def run(path=path):
            code, body = _get(url, "/gradio_api/file=" + urllib.parse.quote(path), cookie=bob)
            return code in (403, 404), f"{code} {body[:100]}"
        row = attempt(world, server, "path escape", "curator", name, run)
        assert row["blocked"], row
    code, _ = _get(url, "/gradio_api/file=" + urllib.parse.quote(str(root / "demo" / "pool.sqlite")), cookie=bob)
    assert code == 200  # the project the account names stays reachable


# --- role escapes -------------------------------------------------------------------------


def test_a_curator_calling_each_admin_event_through_the_api_is_refused(world, server, events):
    bob = _client(server["url"], CURATOR)
    admin_events = [(i, name, action) for i, name, action, _ in events if action not in ("view", "curate", "chat", "open")]
    assert len(admin_events) >= 15
    for fn_id, name, action in admin_events:
        short = name.replace("ui.", "").replace(".build.<locals>", "").replace(".<locals>", "")
        row = attempt(world, server, "role escape", "curator", f"{short} ({action})",
                      lambda: _refused(lambda: _call(bob, events, name, {0: "demo"} if _first_is_project(events, fn_id) else None,
                                                     nth=_nth(events, fn_id))))
        assert row["blocked"] and not row["changed"] and "may not" in row["seen"], row


def _first_is_project(events, fn_id) -> bool:
    import gradio as gr

    ins = next(ins for i, _, _, ins in events if i == fn_id)
    visible = [c for c in ins if not isinstance(c, gr.State)]
    return bool(visible) and isinstance(visible[0], gr.Textbox) and "roject" in str(getattr(visible[0], "label", ""))


def _nth(events, fn_id) -> int:
    name = next(n for i, n, _, _ in events if i == fn_id)
    return [i for i, n, _, _ in events if n.endswith(name)].index(fn_id)


# --- code from a project's files ----------------------------------------------------------


def test_a_crafted_pool_cannot_switch_on_remote_code(world, server, events):
    from kd_core.runtime import runs

    admin = _client(server["url"], ADMIN)
    crafted = world["root"] / "crafted"

    def run():
        # Expand's default: no model fields, so the run rebuilds the models from the pool's meta.
        try:
            _call(admin, events, ev("expand", "on_run"), {0: "crafted"})
        except Exception as e:  # refused at once is as good
            return not world["marker"].exists(), str(e)
        deadline = time.time() + 240
        while time.time() < deadline and runs.status(crafted, "expand").get("state") in runs.ACTIVE:
            time.sleep(2)
        state = runs.status(crafted, "expand").get("state")
        log = runs.log_tail(crafted, "expand")
        # The flag in the file was dropped, so transformers refused to run the model's own code.
        refused = "contains custom code which must be executed" in log
        return (state not in runs.ACTIVE and refused and not world["marker"].exists(),
                f"run {state}; marker written: {world['marker'].exists()}; log: {log[-300:]}")

    before = _tree(world["outside"])
    row = attempt(world, server, "remote code", "admin", "Expand resumes a pool whose meta says trust_remote_code", run)
    # The run itself writes its own status and log into the project: only the outside and the marker count here.
    row["changed"] = _tree(world["outside"]) != before or world["marker"].exists()
    assert row["blocked"] and not row["changed"], row


# --- limits -------------------------------------------------------------------------------


def test_the_parquet_bomb_is_refused_without_the_server_growing(world, server, events):
    from gradio_client import handle_file

    admin = _client(server["url"], ADMIN)
    pid = server["proc"].pid
    rss0 = _rss_mb(pid)

    def run():
        blocked, seen = _refused(lambda: _call(admin, events, "ui.expand.preview", {0: handle_file(str(world["base"] / "bomb.parquet"))}))
        grew = _rss_mb(pid) - rss0
        return blocked and grew < 200, f"grew {grew:.0f} MB; {seen}"

    row = attempt(world, server, "limits", "admin", "Parquet bomb (20M rows) uploaded to Expand", run)
    assert row["blocked"], row


def test_oversized_and_foreign_host_requests_are_refused(world, server):
    url = server["url"]
    def big_body(route: str, size: int, kind: str):
        # The headers announce the size; the server must answer 413 before reading any of it.
        import http.client

        parsed = urllib.parse.urlparse(url)
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        conn.putrequest("POST", route)
        conn.putheader("Content-Type", kind)
        conn.putheader("Content-Length", str(size))
        conn.endheaders()
        r = conn.getresponse()
        body = r.read(500).decode()
        conn.close()
        return r.status == 413, (r.status, body)

    row = attempt(world, server, "limits", "anyone", "a 2 MB API request body",
                  lambda: big_body("/gradio_api/queue/join", 2 * 2**20, "application/json"))
    assert row["blocked"], row
    # Uploads have their own, larger cap (upload_mb, 200 MB by default): one byte more is refused unread.
    row = attempt(world, server, "limits", "anyone", "an upload one byte over upload_mb",
                  lambda: big_body("/gradio_api/upload", 200 * 2**20 + 65536 + 1, "multipart/form-data; boundary=x"))
    assert row["blocked"], row
    row = attempt(world, server, "limits", "anyone", "Host: evil.example (DNS rebinding)",
                  lambda: ((c := _get(url, "/", headers={"Host": "evil.example"}))[0] == 421, c))
    assert row["blocked"], row


# --- in Chromium --------------------------------------------------------------------------


def sign_in(browser, url: str, who: tuple[str, str]):
    """A new browser context signed in through the login page."""
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.locator("input[type=text], input[name=username]").first.fill(who[0])
    page.locator("input[type=password]").first.fill(who[1])
    page.locator("button").filter(has_text="Login").first.click()
    expect(page.locator("#project-open")).to_be_visible(timeout=60_000)
    return context, page


def test_in_the_browser_a_curator_meets_plain_refusals(world, server, browser):
    from playwright.sync_api import expect

    context, page = sign_in(browser, server["url"], CURATOR)
    try:
        # The project list offers the account's own projects, and nothing else of the root.
        page.locator("#project-pick input").click()
        expect(page.get_by_role("option")).to_have_text([re.compile(r"crafted$"), re.compile(r"demo$")], timeout=30_000)
        page.get_by_role("option", name="demo").click()
        expect(page.locator("#project-message")).to_contain_text("demo", timeout=30_000)

        def bar(text: str):
            def run():
                page.locator("#project-folder textarea, #project-folder input").first.fill(text)
                page.locator("#project-open").click()
                toast = page.locator(".toast-body").last
                expect(toast).to_be_visible(timeout=30_000)
                seen = toast.inner_text()
                page.locator(".toast-close").last.click() if page.locator(".toast-close").count() else None
                return any(w in seen for w in (*CONFINED, "may not")), seen
            return run

        for text, name in (("/etc", "page: project bar, absolute path"), ("../outside/theirs", "page: project bar, .."),
                           ("secret", "page: project bar, another team's project")):
            row = attempt(world, server, "path escape", "curator", name, bar(text))
            assert row["blocked"] and not row["traceback"], row

        def load_models():
            page.get_by_role("tab", name="Models").click()
            page.locator("#models-load").click()
            toast = page.locator(".toast-body").last
            expect(toast).to_contain_text("may not", timeout=30_000)
            return True, toast.inner_text()

        row = attempt(world, server, "role escape", "curator", "page: Models -> Load", load_models)
        assert row["blocked"], row
    finally:
        context.close()


def test_two_curators_and_an_admin_curate_one_project_at_once(world, server, browser):
    """Three browsers on one pool: every decision lands once with its author; undo undoes only one's own."""
    from playwright.sync_api import expect

    from kd_core.tuneshift.pool import Pool

    root = world["root"]
    make_project(root / "team")
    add = [(ADMIN, "admin"), (CURATOR, "curator"), (CURATOR2, "curator")]
    sessions = []
    try:
        for who, _ in add:
            context, page = sign_in(browser, server["url"], who)
            sessions.append((who[0], context, page))
            page.locator("#project-folder textarea, #project-folder input").first.fill("team")
            page.locator("#project-open").click()
            expect(page.locator("#project-message")).to_contain_text("team", timeout=30_000)
            page.get_by_role("tab", name="Curate").click()
            expect(page.locator("#curate-counts")).to_contain_text("6 prompts", timeout=30_000)
        # Each picks two prompts; the clicks go out back to back, the server queues them.
        plan = {"alice": [0, 1], "bob": [2, 3], "carol": [4, 5]}
        for round_ in range(2):
            for user, _, page in sessions:
                prompt = PROMPTS[plan[user][round_]][0]
                page.locator("#curate-table").get_by_role("gridcell").filter(has_text=prompt).first.click()
                expect(page.locator("#curate-prompt textarea")).to_have_value(prompt)
            for user, _, page in sessions:
                page.locator("#curate-accept" if round_ == 0 else "#curate-reject").click()

        def decided() -> int:
            with Pool(root / "team", create=False) as pool:
                return len(pool.decisions())

        wait_until(lambda: decided() >= 6, timeout=90, what="six decisions from three browsers")
        with Pool(root / "team", create=False) as pool:
            d = pool.decisions()
        assert len(d) == 6 and sorted(d["who"]) == ["alice", "alice", "bob", "bob", "carol", "carol"]
        by_text = {p: i for i, (p, _, _) in enumerate(PROMPTS)}
        with Pool(root / "team", create=False) as pool:
            texts = dict(zip(pool.query(None)["id"], pool.query(None)["text"]))
        for _, r in d.iterrows():
            assert by_text[texts[r["prompt_id"]]] in plan[r["who"]]  # each decision is its author's own
        # bob undoes: only bob's latest (his reject) comes back.
        bob_page = sessions[1][2]
        bob_page.locator("#curate-undo").click()

        def undos() -> list[dict]:
            with Pool(root / "team", create=False) as pool:
                d = pool.decisions()
            return d[d["action"] == "undo"].to_dict("records")

        undone = wait_until(undos, timeout=60, what="bob's undo")
        expect(bob_page.locator("#curate-counts")).to_contain_text("accepted 3 · rejected 2", timeout=30_000)
        assert [u["who"] for u in undone] == ["bob"]
        assert texts[int(undone[0]["prompt_id"])] == PROMPTS[plan["bob"][1]][0]
    finally:
        for _, context, _ in sessions:
            context.close()


# --- sign-in (last: it leaves this address in back-off) -----------------------------------


def test_sign_in_brute_force_is_slowed_and_then_refused_outright(world, server):
    url = server["url"]

    def run():
        codes = []
        for i in range(12):
            codes.append(_get(url, "/login", data=urllib.parse.urlencode({"username": "bob", "password": f"guess-{i}"}).encode())[0])
        right = _get(url, "/login", data=urllib.parse.urlencode({"username": CURATOR[0], "password": CURATOR[1]}).encode())[0]
        # Five wrong guesses are answered; from then on every try is refused before any hash is computed.
        return codes[:5] == [400] * 5 and set(codes[5:]) == {429} and right == 429, f"codes {codes}, then the right password: {right}"

    row = attempt(world, server, "sign-in", "anyone", "12 guesses of bob's password, then the right one", run)
    assert row["blocked"], row


def test_zz_the_attack_table(world, server):
    """The table (printed for the README), held to the goal."""
    rows = ATTEMPTS
    lines = ["| # | category | as | attempt | blocked | data changed | traceback shown | still serving |", "|---|---|---|---|---|---|---|---|"]
    for n, r in enumerate(rows, 1):
        lines.append(f"| {n} | {r['category']} | {r['who']} | {r['attempt']} | {'yes' if r['blocked'] else 'NO'} | "
                     f"{'YES' if r['changed'] else 'no'} | {'YES' if r['traceback'] else 'no'} | {'yes' if r['serving'] else 'NO'} |")
    table = "\n".join(lines)
    print("\n" + table)
    (world["base"] / "attack-table.md").write_text(table + "\n")
    (world["base"] / "attacks.json").write_text(json.dumps(rows, indent=1))  # with what the client saw
    if os.environ.get("KD_ATTACK_TABLE"):
        Path(os.environ["KD_ATTACK_TABLE"]).write_text(table + "\n")
        Path(os.environ["KD_ATTACK_TABLE"]).with_suffix(".json").write_text(json.dumps(rows, indent=1))
    assert len(rows) >= 30
    assert all(r["blocked"] and not r["changed"] and not r["traceback"] and r["serving"] for r in rows)
