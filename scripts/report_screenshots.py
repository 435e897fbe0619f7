#!/usr/bin/env python
"""Screenshots of what a run reports, for the README (assets/screenshots/), from real runs:

1. A short real training job (SmolLM2-135M-Instruct on 160 of the demo's fine-tune pairs,
   48 steps, 15% held out, eval loss every 6 steps, TensorBoard on) through `kd-studio
   train`, whose progress lines are kept (`train-cli.txt`).
2. TensorBoard, served offline on that job's `runs/` folder: its scalars, train and eval
   loss (`tensorboard.png`).
3. The Train tab on that job: the loss curve with the held-out loss dashed
   (`train-eval-loss.png`).
4. The job adapter's model card (`adapter/README.md`) rendered: the YAML front matter as the
   Hub lists it, the Markdown body as HTML (`card.png`).
5. The demo project's Evaluate and Expand tabs while a run works: their progress bars, with
   done/total and ETA (`evaluate-progress.png`, `expand-progress.png`); both runs are
   stopped once pictured.

The job and the demo project share one projects root, served by `kd-studio serve`; the
runs take a private device lock (KD_STUDIO_LOCK_DIR), so they never wait behind, or hold
up, a training job of this machine's.

    .venv/bin/python scripts/report_screenshots.py          # ~10 min on 2 cores
    .venv/bin/python scripts/report_screenshots.py --progress-only   # 5. alone
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.browser import CHROMIUM_FLAGS, chromium_path, free_port, wait_http  # noqa: E402

ENV = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False",
           KD_STUDIO_LOCK_DIR=tempfile.mkdtemp(prefix="kd-report-shots-locks-"))
JOB = """student: demo:smollm2-135m-instruct
data: {data}
name: report-demo
train:
  loss: sft
  max_steps: 48
  batch_size: 8
  learning_rate: 0.001
  logging_steps: 2
  eval_fraction: 0.15
  eval_steps: 6
  report_to: [tensorboard]
"""


def train_job(root: Path, out: Path) -> Path:
    """The short job, in a project under `root`; returns its folder."""
    from kd_core.demo.world import finetune_examples

    project = root / "reports"
    project.mkdir(parents=True)
    data = project / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": e.prompt, "completion": e.response}) + "\n"
                            for e in finetune_examples([], seed=0)[:160]))
    job = project / "job.yaml"
    job.write_text(JOB.format(data=data))
    p = subprocess.run([sys.executable, "-m", "kd_core.cli", "train", str(job), "--project", str(project)], env=ENV,
                       capture_output=True, text=True)
    (out / "train-cli.txt").write_text(p.stdout + p.stderr)
    if p.returncode:
        raise SystemExit(f"training failed:\n{(p.stdout + p.stderr)[-3000:]}")
    (folder,) = [d for d in (project / "jobs").iterdir() if d.is_dir()]
    print(f"job {folder.name}: {p.stdout.strip().splitlines()[-1]}")
    return folder


def card_html(card: Path) -> str:
    from markdown_it import MarkdownIt

    text = card.read_text()
    front, body = ("", text)
    if text.startswith("---\n"):
        front, body = text[4:].split("\n---\n", 1)
    esc = front.replace("&", "&amp;").replace("<", "&lt;")
    return ("<html><head><meta charset='utf-8'><style>body{font-family:sans-serif;max-width:900px;margin:24px auto;"
            "line-height:1.45} pre{background:#f6f8fa;padding:12px;border-radius:6px;font-size:12px;overflow:auto}"
            "table{border-collapse:collapse} td,th{border:1px solid #ddd;padding:4px 8px} code{background:#f6f8fa}</style>"
            f"</head><body><h4>{card.parent.name}/README.md: front matter (the Hub's metadata)</h4><pre>{esc}</pre>"
            f"{MarkdownIt('commonmark').enable('table').render(body)}</body></html>")


def pictures_of_the_job(page, root: Path, job: Path, out: Path, tb, tb_port: int, app, url: str) -> None:
    """1-4: the card, TensorBoard, the Train tab's curve."""
    page.goto((root / "card.html").as_uri())
    page.screenshot(path=str(out / "card.png"), full_page=True)
    print(f"card -> {out / 'card.png'}")

    wait_http(f"http://127.0.0.1:{tb_port}/", 60, tb)
    page.goto(f"http://127.0.0.1:{tb_port}/#timeseries")
    page.get_by_text("eval/loss").first.wait_for(timeout=60_000)
    time.sleep(5)  # the charts draw
    page.screenshot(path=str(out / "tensorboard.png"))
    print(f"TensorBoard -> {out / 'tensorboard.png'}")

    wait_http(url, 120, app)
    page.goto(url)
    time.sleep(5)
    # The job's project, opened through the bar as a user would.
    box = page.locator("#project-folder input, #project-folder textarea").first
    box.fill(str(job.parent.parent))
    box.press("Tab")
    page.locator("#project-open").click()
    page.locator("#project-message").get_by_text("reports").first.wait_for(timeout=30_000)
    page.get_by_role("tab", name="Train").click()
    page.locator("#train-job-info").get_by_text(job.name).first.wait_for(timeout=60_000)
    page.locator("#train-loss-plot .js-plotly-plot .scatterlayer .trace").first.wait_for(timeout=60_000)
    time.sleep(3)
    page.locator("#train-loss-plot").screenshot(path=str(out / "train-eval-loss.png"))
    print(f"Train tab's curve -> {out / 'train-eval-loss.png'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "assets" / "screenshots"))
    ap.add_argument("--progress-only", action="store_true", help="only the Evaluate and Expand bars (5.)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    browser_path = chromium_path()
    if browser_path is None:
        print("Chromium not found: install the Debian package 'chromium'", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="kd-report-shots-"))
    job = None if args.progress_only else train_job(root, out)
    if job is not None:
        (root / "card.html").write_text(card_html(job / "adapter" / "README.md"))

    from playwright.sync_api import sync_playwright

    procs = []
    try:
        tb_port, app_port = free_port(), free_port()
        if job is not None:
            tb = subprocess.Popen([str(Path(sys.executable).parent / "tensorboard"), "--logdir", str(job / "runs"),
                                   "--host", "127.0.0.1", "--port", str(tb_port)], env=ENV,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(tb)
        # The demo project beside the job's, in the same projects root.
        from kd_core.demo.project import make_demo_project

        make_demo_project(root)
        app = subprocess.Popen([sys.executable, "-m", "kd_core.cli", "serve", "--port", str(app_port),
                                "--projects-root", str(root), "--project", "demo"], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        procs.append(app)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1300, "height": 900})

            url = f"http://127.0.0.1:{app_port}/"
            if job is not None:
                pictures_of_the_job(page, root, job, out, tb, tb_port, app, url)
            # The demo project again, then a run in Evaluate and in Expand, pictured once their bars count.
            wait_http(url, 120, app)
            page.goto(url)
            time.sleep(5)
            page.get_by_role("tab", name="Evaluate").click()
            page.locator("#eval-run").click()
            page.locator("#eval-status .kd-progress-figures b").first.wait_for(timeout=900_000)  # done/total
            time.sleep(10)  # a few batches: an ETA
            page.locator("#eval-status").screenshot(path=str(out / "evaluate-progress.png"))
            print(f"Evaluate's bar -> {out / 'evaluate-progress.png'}")
            page.locator("#eval-stop").click()

            page.get_by_role("tab", name="Expand").click()
            page.locator("#expand-demo-seeds input").check()
            page.locator("#expand-rounds input").first.fill("1")
            page.locator("#expand-rounds input").first.press("Tab")
            page.locator("#expand-run").click()
            page.locator("#expand-status .kd-progress-figures b").first.wait_for(timeout=900_000)
            time.sleep(10)
            page.locator("#expand-status").screenshot(path=str(out / "expand-progress.png"))
            print(f"Expand's bar -> {out / 'expand-progress.png'}")
            page.locator("#expand-stop").click()
            time.sleep(3)
            browser.close()
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
